-- A call wants to run while the circuit is not closed: admit it as a probe
-- if the open period is over and the fleet-wide quota has room.
if s == 0 then
  if e == 0 then -- no hash (expired): start a closed period, so breakers stuck in an older one adopt it
    move(0, 0)
    save()
  end
  return reply(1)
end
if s == 2 then
  if now < u then return reply(0) end
  move(1, now + timeout)
  announce()
elseif now >= u then
  move(1, now + timeout) -- the probes went quiet for OpenTimeout: presumed lost
elseif p >= maxp then
  return reply(0)
end
p = p + 1
u = now + timeout
save()
return reply(1)
