-- A longitudinal design and two mutually exclusive arms, rehearsed in the sandbox:
--
--   1. wave 1: a study with demographic filters, published, taken, reviewed;
--   2. a participant group of wave 1's approved participants;
--   3. wave 2 on that group's allow-list: only they may take it;
--   4. the group split between two arms, a mutually exclusive collection: nobody takes both.
--
--   lua5.4 examples/longitudinal.lua --sandbox     -- a private sandbox of its own
--   PROLIFIC_TOKEN=... PROLIFIC_URL=<a sandbox> lua5.4 examples/longitudinal.lua
--
-- The participants are the sandbox's seeded pool (30,000 people who come back study after
-- study), driven through its control routes: this script rehearses and never runs on Prolific
-- (there, real participants take part and it would spend money), so it stops unless its URL is
-- a sandbox.
local cohort = require "cohort"

local PLACES = { wave1 = 30, wave2 = 15 }

-- ---------------------------------------------------------------- where we run
local url, token = os.getenv("COHORT_SANDBOX_URL") or os.getenv("PROLIFIC_URL"), os.getenv("PROLIFIC_TOKEN")
local own
if arg[1] == "--sandbox" then
  own = assert(require("cohort.sandbox").start {})
  url, token = own.url, own.token
end
if not url then
  io.stderr:write("longitudinal.lua rehearses in the sandbox: give --sandbox, or PROLIFIC_URL of one\n")
  os.exit(2)
end
local p = cohort.prolific { token = token, base_url = url }

-- The sandbox's handle: the one place this script drives the sandbox rather than Prolific's
-- API — participants taking a study, and who they are (its verbs call the control routes).
local sb = own or require("cohort.sandbox").connect(url)
if not sb:health() then
  io.stderr:write(("longitudinal.lua: %s is not a cohort sandbox; this script only rehearses\n"):format(url))
  os.exit(2)
end

local function say(fmt, ...) print((fmt):format(...)) end

-- simulated participants take a published study; returns once every submission has finished
local function run(study, n, seed)
  assert(sb:simulate(study,
    { participants = n, returns = 0, timeouts = 0, failed_checks = 0.15, duration_ms = 300, seed = seed }))
  while true do
    local subs, busy = assert(p.submissions:all { study = study.id }), 0
    for _, s in ipairs(subs) do
      if s.status == "RESERVED" or s.status == "ACTIVE" then busy = busy + 1 end
    end
    if busy == 0 then return subs end
    p:sleep(0.1)
  end
end

local function draft(name, places, filters)
  return assert(p.studies:create {
    name = name, description = "A ten-minute questionnaire on sleep and mood.",
    external_study_url = "https://example.org/sleep?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}",
    prolific_id_option = "url_parameters",
    completion_codes = { { code = "SLEEP100", code_type = "COMPLETED",
      actions = { { action = "MANUALLY_REVIEW" } } } },
    estimated_completion_time = 10, reward = 150, total_available_places = places,
    filters = filters,
  })
end

-- ---------------------------------------------------------------- 1. wave 1
local DEMOGRAPHICS = {
  { filter_id = "current-country-of-residence", selected_values = { "0" } },   -- United Kingdom
  { filter_id = "age", selected_range = { lower = 18, upper = 35 } },
  { filter_id = "fluent-languages", selected_values = { "0" } },                -- English
}
local eligible = assert(p.filters:eligible_count { filters = DEMOGRAPHICS })
local wave1 = assert(draft("Sleep and mood, wave 1", PLACES.wave1, DEMOGRAPHICS):publish())
local approved, rejected = {}, 0
for _, s in ipairs(run(wave1, PLACES.wave1, 1)) do
  if s.status == "AWAITING REVIEW" then
    if s.attention_check == "failed" then
      assert(s:reject { category = "FAILED_CHECK", message = "Thank you for taking part. Your "
        .. "answer to the attention-check question did not follow the instructions, so we "
        .. "cannot approve this submission." })
      rejected = rejected + 1
    else
      approved[#approved + 1] = s
    end
  end
end
assert(p.submissions:bulk_approve { ids = approved })
say("Wave 1 (study %s): %d eligible UK residents aged 18-35; %d took part, %d approved, %d rejected",
  wave1.id, eligible, PLACES.wave1, #approved, rejected)

-- ---------------------------------------------------------------- 2. the group of wave 1
local workspace = assert(p.workspaces:all())[1]
local group = assert(p.groups:create { workspace_id = workspace.id, name = "Sleep and mood: wave 1",
  description = "Approved in wave 1; invited to wave 2." })
local ids = {}
for i, s in ipairs(approved) do ids[i] = s.participant_id end
assert(group:add(ids))
group = assert(group:refresh())
say("Group (%s): %d participants", group.id, group.participant_count)

-- ---------------------------------------------------------------- 3. wave 2, on its allow-list
local n2 = math.min(PLACES.wave2, group.participant_count)
local wave2 = assert(draft("Sleep and mood, wave 2", n2, {
  { filter_id = "participant_group_allowlist", selected_values = { group.id } } }):publish())
local members = {}
for m in group:participants() do members[m.participant_id] = true end
local from_group = 0
local wave2_subs = run(wave2, n2, 2)
for _, s in ipairs(wave2_subs) do
  if members[s.participant_id] then from_group = from_group + 1 end
end
assert(from_group == #wave2_subs, "a wave-2 participant is not in wave 1's group")
say("Wave 2 (study %s): %d of %d participants are in wave 1's group", wave2.id, from_group, #wave2_subs)

-- ---------------------------------------------------------------- 4. two exclusive arms
-- The group again, split between a morning and an evening arm: each arm is open to all of it,
-- and the collection lets each participant take one arm only.
local per_arm = math.floor(group.participant_count / 2)
local ALLOW = { { filter_id = "participant_group_allowlist", selected_values = { group.id } } }
local arm_a = draft("Sleep and mood: arm A (morning)", per_arm, ALLOW)
local arm_b = draft("Sleep and mood: arm B (evening)", per_arm, ALLOW)
local arms = assert(p.collections:create { project_id = arm_a.project, name = "Morning or evening",
  description = "Each participant takes one arm.", study_ids = { arm_a.id, arm_b.id } })
assert(arms:publish())
local in_a, both = {}, 0
local subs_a = run(arm_a, per_arm, 3)
for _, s in ipairs(subs_a) do in_a[s.participant_id] = true end
local subs_b = run(arm_b, per_arm, 4)
for _, s in ipairs(subs_b) do if in_a[s.participant_id] then both = both + 1 end end
assert(both == 0, "a participant took both arms")
say("Arms (studies %s, %s): %d in arm A, %d in arm B, %d in both", arm_a.id, arm_b.id,
  #subs_a, #subs_b, both)

-- who took part, as the sandbox's pool knows them
local first = sb:participant(approved[1].participant_id)
local took = {}
for sid, status in pairs(first.history) do
  took[#took + 1] = (sid == wave1.id and "wave 1" or sid == wave2.id and "wave 2"
    or sid == arm_a.id and "arm A" or sid == arm_b.id and "arm B" or sid) .. " " .. status
end
table.sort(took)
say("Participant %s (%s, %d, %s): %s", first.id, first.sex, first.age,
  first.current_country_of_residence, table.concat(took, ", "))

if own then own:stop() end
