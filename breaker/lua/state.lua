-- Reads the circuit.
return reply(0)
