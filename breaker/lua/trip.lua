-- A breaker's closed-state calls crossed a threshold: open the circuit, if
-- it is closed. (Open or half-open already: the fleet is ahead; keep that.)
if s == 0 then
  move(2, now + timeout)
  save()
  announce()
end
return reply(0)
