--- QuestionPro's operations (v2 API): operation name → HTTP method, path (under `/a/api/v2`),
-- resource and Lua method; see `cohort.resource` for the row format.
-- @module cohort.questionpro.operations
return {}
