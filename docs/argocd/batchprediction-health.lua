-- Argo CD health check for ml.sextant.io/BatchPrediction (key: resource.customizations.health.ml.sextant.io_BatchPrediction).
-- Reads only status; any field may be missing (a status the operator has not written yet, or an older operator).
local hs = {}
local status = obj.status
if type(status) ~= "table" or next(status) == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to write a status"
  return hs
end

local function text(value)
  if (type(value) ~= "string" and type(value) ~= "number") or value == "" then
    return nil
  end
  return tostring(value)
end

local generation = obj.metadata and tonumber(obj.metadata.generation)
local observed = tonumber(status.observedGeneration)
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local message = text(status.message) or text(status.reason)
local phase = status.phase
local scheduled = text(status.nextScheduleTime)

-- A scheduled job between runs shows its last run's phase; a superseded (Stopped) last run says nothing, so
-- the newest run that ended decides (runs are newest first).
if scheduled and phase ~= "Running" and phase ~= "Pending" and phase ~= "Suspended" and type(status.runs) == "table" then
  if phase ~= "Succeeded" and phase ~= "Failed" then
    for _, run in ipairs(status.runs) do
      if type(run) == "table" and (run.phase == "Succeeded" or run.phase == "Failed") then
        phase = run.phase
        message = message or text(run.message)
        break
      end
    end
  end
end

if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "Running" or phase == "Pending" or phase == nil then
  hs.status = "Progressing"
elseif phase == "Failed" then
  hs.status = "Degraded"
elseif phase == "Suspended" then
  hs.status = "Suspended"
else
  hs.status = "Progressing"
  message = "unknown phase " .. tostring(phase) .. (message and (": " .. message) or "")
end
message = message or ("phase " .. tostring(phase or "not set yet"))
if scheduled and (phase == "Succeeded" or phase == "Failed") then
  message = message .. "; next run at " .. scheduled
end
hs.message = message
return hs
