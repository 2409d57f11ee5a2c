--- QuestionPro's operations (v2 API): operation name → `{ METHOD, "/path/{id}", "resource",
-- "lua_method", ... }` with paths under `/a/api/v2`. Each family module
-- (`cohort.questionpro.surveys`, `cohort.questionpro.responses`) declares its rows in
-- `M.operations`; this module merges them and refuses a name declared twice.
--
-- The row format is `cohort.resource`'s, with these additions read by `cohort.questionpro`:
--
-- * `paging = "qp"`: QuestionPro's list body `{"response": [...], "pagination": {...}}` over
--   `page`/`perPage`; a POST row pages too (the body is sent again with every page);
-- * `unwrap = true`: the object is taken out of `{"response": {...}}` before it is wrapped;
-- * `split = fn(label, args, client) → body, query`: replaces `prepare` for a POST whose
--   arguments go partly into the query;
-- * `raw_string = true`: the argument may be a JSON text, sent as it is;
-- * `returns_true = true`: the method answers `true` on success.
--
-- | operation          | method | path                                   | Lua                          |
-- |--------------------|--------|----------------------------------------|------------------------------|
-- | GetUserSurveys     | GET    | /users/{user_id}/surveys               | surveys:list/each/all        |
-- | GetSurvey          | GET    | /surveys/{survey_id}                   | surveys:get                  |
-- | GetSurveyQuestions | GET    | /surveys/{survey_id}/questions         | surveys:questions/each_/all_ |
-- | GetResponses       | GET    | /surveys/{survey_id}/responses         | responses:list/each/all      |
-- | FilterResponses    | POST   | /surveys/{survey_id}/responses/filter  | responses:filter/each_/all_  |
-- | GetResponse        | GET    | /surveys/{survey_id}/responses/{rid}   | responses:get                |
-- | CreateResponse     | POST   | /surveys/{survey_id}/responses         | responses:create             |
-- | DeleteResponse     | DELETE | /surveys/{survey_id}/responses/{rid}   | responses:delete             |
-- @module cohort.questionpro.operations

--- The resource family modules, in the order they are attached.
local FAMILIES = { "surveys", "responses" }

local ops = {}
for _, family in ipairs(FAMILIES) do
  local mod = require("cohort.questionpro." .. family)
  for op_id, row in pairs(mod.operations or {}) do
    if ops[op_id] then error("cohort.questionpro.operations: " .. op_id .. " declared twice") end
    ops[op_id] = row
  end
end

return setmetatable(ops, { __index = { FAMILIES = FAMILIES } })
