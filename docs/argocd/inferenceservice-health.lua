-- Argo CD health check for ml.sextant.io/InferenceService (key: resource.customizations.health.ml.sextant.io_InferenceService).
-- Reads only status; any field may be missing (a status the operator has not written yet, or an older operator).
local hs = {}
local status = obj.status
if type(status) ~= "table" or next(status) == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to write a status"
  return hs
end

local function condition(kind)
  if type(status.conditions) ~= "table" then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if type(c) == "table" and c.type == kind then
      return c
    end
  end
  return nil
end

local function text(value)
  if (type(value) ~= "string" and type(value) ~= "number") or value == "" then
    return nil
  end
  return tostring(value)
end

local ready, degraded = condition("Ready"), condition("Degraded")
local message = text(status.message) or text(degraded and degraded.status == "True" and degraded.message)
  or text(ready and ready.message) or text(status.reason)

local generation = obj.metadata and tonumber(obj.metadata.generation)
local observed = tonumber(status.observedGeneration) or (ready and tonumber(ready.observedGeneration))
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local phase = status.phase
if phase == "Ready" then
  hs.status = "Healthy"
elseif phase == "Pending" or phase == nil then
  hs.status = "Progressing"
elseif phase == "Degraded" or phase == "Failed" then
  hs.status = "Degraded"
elseif phase == "Suspended" then
  hs.status = "Suspended"
else
  hs.status = "Progressing"
  message = "unknown phase " .. tostring(phase) .. (message and (": " .. message) or "")
end
hs.message = message or ("phase " .. tostring(phase or "not set yet"))
return hs
