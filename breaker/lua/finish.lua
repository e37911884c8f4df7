-- A probe of period ARGV[7] ended: s succeeded, f failed, i neither (it
-- gives its slot back). Probes of another period are ignored.
if s ~= 1 or e ~= tonumber(ARGV[7]) then return reply(0) end
local outcome = ARGV[8]
if outcome == 's' then
  k = k + 1
  if k >= maxp then
    move(0, 0)
    save()
    announce()
  else
    save()
  end
elseif outcome == 'f' then
  move(2, now + timeout)
  save()
  announce()
else
  if p > 0 then p = p - 1 end
  save()
end
return reply(0)
