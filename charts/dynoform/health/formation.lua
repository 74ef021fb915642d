-- Argo CD health check for dyno.dev/Formation (Lua 5.1, as Argo CD runs it).
-- Healthy: Ready=True for the generation the operator last observed, which is the current one.
-- Degraded: the operator refused the spec (Reconciled=False: an unknown size, a size limit, a
-- name conflict ...), or the release command failed for the new image (Released=False,
-- ReleaseFailed); the running dynos are left as they were. Progressing: anything else (not
-- observed yet, a release running, dynos rolling out or pending).
local hs = { status = "Progressing", message = "Waiting for the dynoform operator" }
local generation = obj.metadata and obj.metadata.generation
local status = obj.status
if status == nil then
  return hs
end
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
local ready, reconciled, released = nil, nil, nil
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    elseif condition.type == "Reconciled" then
      reconciled = condition
    elseif condition.type == "Released" then
      released = condition
    end
  end
end
if reconciled ~= nil and reconciled.status == "False" then
  hs.status = "Degraded"
  hs.message = (reconciled.reason or "") .. ": " .. (reconciled.message or "")
  return hs
end
if released ~= nil and released.status == "False" and released.reason == "ReleaseFailed" then
  hs.status = "Degraded"
  hs.message = released.reason .. ": " .. (released.message or "")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = status.formation or ready.message or ""
  return hs
end
if ready ~= nil then
  hs.message = (ready.reason or "") .. ": " .. (ready.message or "")
end
return hs
