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

  -- Contradictions inside the spec.
  { schema = "MutuallyExclusiveStudyCollectionUpdate", field = "", patch = {},
    why = "Each mutually exclusive collection schema sets additionalProperties: false and "
      .. "takes another one's fields through allOf; read as JSON Schema, every branch then "
      .. "refuses the other branches' fields (project_id, id, status), so no body or answer "
      .. "can conform. cohort reads allOf as the union of the parts (OpenAPI's intent), "
      .. "closed to other fields." },
  { schema = "MutuallyExclusiveStudyCollectionList", field = "", patch = {},
    why = "As MutuallyExclusiveStudyCollectionUpdate: allOf with additionalProperties: false "
      .. "refuses the fields of the part it includes (name, study_ids, ...)." },
  { schema = "MutuallyExclusiveStudyCollectionDetail", field = "", patch = {},
    why = "As MutuallyExclusiveStudyCollectionUpdate: allOf with additionalProperties: false "
      .. "refuses the fields of the parts it includes (id, status, name, ...)." },
  { schema = "MutuallyExclusiveStudyCollectionCreate", field = "", patch = {},
    why = "As MutuallyExclusiveStudyCollectionUpdate: its allOf part refuses project_id, a "
      .. "field the Create schema itself requires." },
  { op = "CreateSubscription", success = { status = 201, schema = { ref = "SubscriptionDetail" } },
    why = "The 201 answer is documented as SubscriptionList ({results: [...]}), but creating "
      .. "a subscription answers the subscription itself, with its X-Hook-Secret header to "
      .. "confirm it (api/README.md: Webhooks)." },

  -- Statuses and enums the live API uses beyond the spec.
  { schema = "SubmissionShort", field = "status", patch = { enum = {
      "RESERVED", "ACTIVE", "TIMED-OUT", "AWAITING REVIEW", "APPROVED", "PARTIALLY APPROVED",
      "RETURNED", "REJECTED", "SCREENED OUT", "UNKNOWN", "PROCESSING" } },
    why = "The spec spells TIME-OUT and omits PARTIALLY APPROVED, UNKNOWN and the transient "
      .. "PROCESSING; the live API answers TIMED-OUT and the others (api/README.md)." },

  -- Bodies and filters the client needs that the spec leaves out (added by the client work).
  { op = "GetStudies", query = { state = { type = "string" } },
    why = "The parameter's description says it takes several statuses as \"(ACTIVE|PAUSED)\", "
      .. "while its schema is an enum of single statuses; cohort sends either form and checks "
      .. "each status itself." },
  { op = "PublishStudy", body = { required = true, schema = { type = "object",
      required = { "action" }, properties = {
        action = { type = "string", enum = { "PUBLISH", "SCHEDULE_PUBLISH", "CANCEL_PUBLISH",
          "PAUSE", "START", "STOP" } },
        publish_at = { type = "string", format = "date-time" } } } },
    why = "The study transitions of api/README.md include SCHEDULE_PUBLISH and CANCEL_PUBLISH, "
      .. "and scheduling needs the time (`publish_at`, as in the collection transition); the "
      .. "spec's body has only a free-text `action`, whose description lists PUBLISH, PAUSE, "
      .. "START and STOP." },
  { op = "ConfirmSubscription", body = { required = true, schema = { type = "object",
      required = { "secret" }, properties = {
        secret = { type = "string", min_length = 1 },
        event_type = { type = "string" }, target_url = { type = "string" },
        is_enabled = { type = "boolean" }, workspace_id = { type = "string", format = "objectId" } } } },
    why = "A subscription is confirmed by posting back the X-Hook-Secret header of its creation "
      .. "(api/README.md: Webhooks); the spec's body (SubscriptionDetail) has no `secret` field "
      .. "and requires the subscription's fields, which cohort sends as well." },
  { op = "UpdateWorkspace", body = { required = true, schema = { type = "object",
      min_properties = 1, properties = { title = STR, description = STR,
        naivety_distribution_rate = { type = "number", nullable = true, minimum = 0, maximum = 1 } } } },
    why = "The update is a PATCH whose body the spec gives as the whole Workspace, requiring `id` "
      .. "(the path's) and `title`; an update sends the fields it changes: title, description, "
      .. "naivety_distribution_rate." },
  { op = "UpdateProject", body = { required = true, schema = { type = "object",
      min_properties = 1, properties = { title = STR, description = STR,
        naivety_distribution_rate = { type = "number", nullable = true, minimum = 0, maximum = 1 } } } },
    why = "As UpdateWorkspace: a PATCH of the fields it changes, not the whole Project with its "
      .. "`id` and `title` required." },
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
  { op = "GetStudyAccessDetailsProgress", success = { status = 200,
      media = { "application/json" }, schema = { type = "object", properties = {
        id = { type = "string" },
        progress = { type = "array", items = { ref = "AccessDetailProgress" } },
        _links = { type = "object" } } } },
    why = "StudyAccessDetailsProgress is typed as an array yet lists object properties (id, "
      .. "access_details); its own example is an object {id, progress: [...]}, which is what "
      .. "this follows." },
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
}
