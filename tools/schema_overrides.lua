-- The override table of tools/gen_schema.lua: every place where cohort's schema departs from
-- Prolific's OpenAPI file (../shared/api/prolific-openapi-2025.json), and why.
--
-- The spec is the source of truth; a row here exists only where the spec contradicts itself or
-- a live fact recorded in ../shared/api/README.md ("Prolific facts the spec does not say").
-- Nothing is guessed silently: the generator refuses a row that matches nothing, and every row
-- is listed, with its reason, in the generated module (`schema.overrides`) and in
-- docs/prolific.md. The conformance check (spec/conformance_spec.lua) accepts a departure from
-- the raw spec only where a row of this table names the operation.
--
-- Row kinds:
--   { ids = {field names}, format = "objectId", why = ... }
--       every property, query or path parameter of one of these names, and the items of an
--       array property of that name, gets the format, unless the spec gives it a format itself.
--   { path_params = "objectId", why = ... }       every path parameter without a format.
--   { schema = "Name", field = "a.b", patch = {...}, why = ... }
--       merge `patch` into the (already converted) node at `field` of component `Name`
--       ("" = the schema itself); `patch.drop = true` removes the field.
--   { op = "OperationId", query = {name = node}, why = ... }     add or replace query parameters.
--   { op = "OperationId", query_drop = {names}, why = ... }      remove query parameters.
--   { op = "OperationId", paging = "page" | "offset", why = ... } how the list pages.
--   { op = "OperationId", body = node | false, why = ... }       replace the request body.
--   { op = "OperationId", success = {status = n, schema = node | false}, why = ... }
--   { op = "OperationId", name = "Name", why = ... }             name an unnamed operation.
-- A node is written in the generated form (see the header of lua/cohort/schema/prolific.lua).
local STR = { type = "string" }
local PAGE = {
  page = { type = "integer", minimum = 1 },
  page_size = { type = "integer", minimum = 1, maximum = 200 },
}
local OID = { type = "string", format = "objectId" }

-- The study-collection answers: the schemas close themselves (additionalProperties: false) and
-- take their fields through allOf, which read as JSON Schema admits no object with both an id
-- and a name; cohort merges the parts, as OpenAPI means allOf. The row changes nothing in the
-- generated module: it records the contradiction against each operation it touches.
local function collection_op(op, status, ref)
  return { op = op, success = { status = status, media = { "application/json" },
      schema = { ref = ref } },
    why = "MutuallyExclusiveStudyCollectionList and ...Detail are closed (additionalProperties: "
      .. "false) and get their other fields through allOf from closed schemas: taken as JSON "
      .. "Schema, no collection fits (its name is 'additional' to one part, its id to the "
      .. "other); the parts are merged into one closed object, as OpenAPI intends allOf." }
end

local function page_op(op)
  return { op = op, paging = "page", query = PAGE,
    why = "The live API pages this list with page + page_size (default 20) and answers "
      .. "{results, _links, meta}; the spec documents neither (api/README.md: Lists)." }
end

return {
  { ids = { "id", "_id", "study_id", "study_ids", "submission_id", "submission_ids",
      "participant_id", "participant_ids", "participant", "workspace_id", "project_id",
      "organisation_id", "filter_set_id", "participant_group", "participant_group_id",
      "recipient_id", "researcher_id", "resource_id", "sender_id", "user_id", "survey_id",
      "response_id", "subscription_id", "target_participant_id", "target_participant_group_id",
      "association", "invited_by", "study", "owner", "created_by" },
    format = "objectId",
    why = "Prolific's object ids are 24 hexadecimal digits in every answer seen, though the "
      .. "spec types most of them as plain strings (it says objectId for only seven fields); "
      .. "UUIDs stay where the spec says uuid (survey sections, questions, answers)." },
  { path_params = "objectId",
    why = "Every path parameter is one of Prolific's object ids (24 hexadecimal digits), "
      .. "though the spec types them as plain strings." },

  -- Operations the spec leaves unnamed.
  { op = "POST /api/v1/messages/bulk/", name = "SendBulkMessage",
    why = "The spec gives this operation no operationId." },
  { op = "POST /api/v1/messages/participant-group/", name = "SendGroupMessage",
    why = "The spec gives this operation no operationId." },

  -- Paging: the live envelope and parameters.
  page_op "GetSubmissions",
  page_op "GetStudySubmissions",
  page_op "GetStudies",
  page_op "GetProjectStudies",
  page_op "GetWorkspaces",
  page_op "GetProjects",
  page_op "GetParticipantGroups",
  page_op "GetParticipantGroupParticipants",
  page_op "GetFilterSets",
  page_op "GetFilters",
  page_op "GetMessages",
  page_op "GetUnreadMessages",
  page_op "GetSubscriptions",
  page_op "GetSecrets",
  page_op "ListMutuallyExclusiveStudyCollections",
  page_op "GetEventTypes",
  { op = "GetSurveys", paging = "offset",
    why = "Surveys page with offset + limit, as the spec's parameters say; the live answer "
      .. "carries meta.count (api/README.md: Lists)." },
  { op = "GetEvents", paging = "offset",
    why = "Hook events page with offset + limit, as the spec's parameters say." },
  { op = "GetResponses", paging = "offset", query = {
      offset = { type = "integer", minimum = 0 }, limit = { type = "integer", minimum = 1, maximum = 1000 } },
    why = "Survey responses page with offset + limit like the survey list; the spec lists no "
      .. "parameters for this list although it pages (api/README.md: Lists)." },

  -- Query parameters the live API takes and the spec omits or types wrongly.
  { op = "GetSubmissions", query = { status = { type = "string", enum = {
      "RESERVED", "ACTIVE", "TIMED-OUT", "AWAITING_REVIEW", "APPROVED", "PARTIALLY_APPROVED",
      "RETURNED", "REJECTED", "SCREENED_OUT", "UNKNOWN" } } },
    why = "The live list filters by status, spelled with underscores (AWAITING_REVIEW); the "
      .. "spec documents only `study` (api/README.md: Submission statuses)." },
  { op = "GetStudySubmissions", query = { status = { type = "string", enum = {
      "RESERVED", "ACTIVE", "TIMED-OUT", "AWAITING_REVIEW", "APPROVED", "PARTIALLY_APPROVED",
      "RETURNED", "REJECTED", "SCREENED_OUT", "UNKNOWN" } } },
    why = "As GetSubmissions: the live list filters by status with underscores." },
  { op = "GetParticipantGroups", query_drop = { "filter" },
    query = { workspace_id = OID, project_id = OID },
    why = "The spec writes the required workspace_id/project_id choice as one object "
      .. "parameter `filter` (oneOf), which is sent as workspace_id=… or project_id=… "
      .. "(form style, exploded); cohort names the two parameters and requires one." },
  { op = "GetFilters", query = { detailed = { type = "boolean" } },
    why = "`detailed` is a flag (true/false); the spec types it as a free string." },

  -- Range filters: what the description says and the schema does not.
  { schema = "RangeFilter", field = "selected_range", patch = { min_properties = 1 },
    why = "The description requires at least one of lower and upper; the schema does not." },
  { schema = "RangeFilter", field = "selected_range.lower", patch = { nullable = true,
      any_of = { { type = "integer" }, { type = "string", format = "date" } } },
    why = "The description says a string bound is an ISO 8601 date and that null leaves the "
      .. "bound open; the schema types the string as free text and does not allow null." },
  { schema = "RangeFilter", field = "selected_range.upper", patch = { nullable = true,
      any_of = { { type = "integer" }, { type = "string", format = "date" } } },
    why = "As lower: a string bound is an ISO 8601 date, and null leaves the bound open." },

  -- Statuses and enums the live API uses beyond the spec.
  { schema = "SubmissionShort", field = "status", patch = { enum = {
      "RESERVED", "ACTIVE", "TIMED-OUT", "AWAITING REVIEW", "APPROVED", "PARTIALLY APPROVED",
      "RETURNED", "REJECTED", "SCREENED OUT", "UNKNOWN", "PROCESSING" } },
    why = "The spec spells TIME-OUT and omits PARTIALLY APPROVED, UNKNOWN and the transient "
      .. "PROCESSING; the live API answers TIMED-OUT and the others (api/README.md)." },

  -- Found while building the sandbox's answers to the spec (docs/sandbox.md, "Where the
  -- sandbox departs from the spec").
  { op = "ListMutuallyExclusiveStudyCollections", success = { status = 200,
      media = { "application/json" }, schema = { type = "object", required = { "results" },
        properties = {
          results = { type = "array", items = { ref = "MutuallyExclusiveStudyCollectionList" } },
          _links = { type = "object" }, meta = { type = "object" } } } },
    why = "The list schema forbids any field but `results` (additionalProperties: false), "
      .. "while live lists carry `_links` and `meta.count` (api/README.md: Lists); its items "
      .. "are the closed allOf of the next rows, merged." },
  collection_op("CreateMutuallyExclusiveStudyCollection", 201, "MutuallyExclusiveStudyCollectionList"),
  collection_op("GetMutuallyExclusiveStudyCollection", 200, "MutuallyExclusiveStudyCollectionDetail"),
  collection_op("UpdateMutuallyExclusiveStudyCollection", 200, "MutuallyExclusiveStudyCollectionDetail"),
  collection_op("TransitionMutuallyExclusiveStudyCollection", 200,
    "MutuallyExclusiveStudyCollectionDetail"),
  { op = "GetStudyAccessDetailsProgress", success = { status = 200,
      media = { "application/json" }, schema = { type = "object", properties = {
        id = { type = "string" },
        progress = { type = "array", items = { ref = "AccessDetailProgress" } },
        _links = { type = "object" } } } },
    why = "StudyAccessDetailsProgress is typed as an array yet lists object properties (id, "
      .. "access_details); its own example is an object {id, progress: [...]}, which is what "
      .. "this follows." },
  { op = "GetStudies", query = { state = { type = "string" } },
    why = "The description of `state` takes a list in the form \"(active|published|...)\", "
      .. "which the enum of single upper-case values forbids; the status names are checked "
      .. "by the handler." },
  { schema = "CreateStudy", field = "", patch = { required = { "completion_codes",
      "description", "estimated_completion_time", "name", "prolific_id_option", "reward",
      "total_available_places" } },
    why = "CreateStudy requires external_study_url, while access_details says \"you must "
      .. "provide one of access_details or external_study_url\" (a taskflow study has none)." },
  { schema = "Study", field = "", patch = { required = { "completion_codes", "description",
      "estimated_completion_time", "id", "maximum_allowed_time", "name", "prolific_id_option",
      "reward", "status", "total_available_places" } },
    why = "As CreateStudy: a taskflow study has access_details instead of external_study_url, "
      .. "so a Study cannot always carry the latter." },
  { op = "ConfirmSubscription", body = { required = true, schema = { type = "object",
      required = { "secret" }, properties = { secret = { type = "string", min_length = 1 },
        event_type = { type = "string" }, target_url = { type = "string" },
        workspace_id = { type = "string", format = "objectId" },
        is_enabled = { type = "boolean" } } } },
    why = "A subscription is confirmed by posting back the X-Hook-Secret value it was created "
      .. "with (api/README.md: Webhooks); the spec's body is a copy of the update body, which "
      .. "would require event_type, target_url and workspace_id instead." },
}
