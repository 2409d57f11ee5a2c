--- Prolific messages: send to a participant, to many, to a participant group; read the
-- conversation with someone, and the unread messages.
--
--     p.messages:send{ recipient_id = sub.participant, study_id = study.id, body = "Thanks!" }
--     p.messages:send_bulk{ ids = { pid1, pid2 }, study_id = study.id, body = "..." }
--     p.messages:send_to_group{ participant_group_id = gid, body = "..." }
--     for m in p.messages:each{ user_id = pid } do print(m) end
--     for m in p.messages:each_unread() do print(m.sender_id, m.body) end
--
-- The short names `recipient`, `study` and `group` are accepted for `recipient_id`, `study_id`
-- and `participant_group_id`. Sending answers `true` (HTTP 204).
-- @module cohort.prolific.messages
local compat = require "cohort.compat"
local util = require "cohort.util"

local M = {}

local ALIASES = { recipient = "recipient_id", study = "study_id", group = "participant_group_id" }

local function unalias(label, args)
  for short, long in pairs(ALIASES) do
    if args[short] ~= nil then
      if args[long] ~= nil then util.misuse(label, "give %s or %s, not both", short, long) end
      args[long], args[short] = args[short], nil
    end
  end
  for _, long in pairs(ALIASES) do
    local v = args[long]
    if type(v) == "table" then args[long] = v.id end -- a Study, a group object
  end
  return args
end

local function check_body(label, args)
  if type(args.body) ~= "string" or args.body:match("^%s*$") then
    util.misuse(label, "body must be a non-empty string (the message text)")
  end
end

local function need_id(label, args, field)
  if args[field] == nil then util.misuse(label, "field '%s' is required", field) end
  util.check_id(label, field, args[field])
end

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  SendMessage = { "POST", "/api/v1/messages/", "messages", "send",
    body = { "recipient_id", "body", "study_id", "recipient", "study" },
    prepare = function(label, args)
      unalias(label, args)
      need_id(label, args, "recipient_id")
      need_id(label, args, "study_id")
      check_body(label, args)
      return args
    end },
  GetMessages = { "GET", "/api/v1/messages/", "messages", "list", paging = "page",
    class = "Message", query = { "user_id", "created_after", "page", "page_size" },
    prepare = function(label, args)
      if args.user_id == nil and args.created_after == nil then
        util.misuse(label, "give user_id (the other person) or created_after (ISO 8601 or Unix time)")
      end
      if args.user_id ~= nil then util.check_id(label, "user_id", args.user_id) end
      local after = args.created_after
      if type(after) == "number" then
        args.created_after = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(after))
      elseif after ~= nil and (type(after) ~= "string" or not after:match("^%d%d%d%d%-%d%d%-%d%d")) then
        util.misuse(label, "created_after must be an ISO 8601 date-time or a Unix time (got %s)",
          tostring(after))
      end
      return args
    end },
  GetUnreadMessages = { "GET", "/api/v1/messages/unread/", "messages", "unread",
    paging = "page", class = "Message", query = { "page", "page_size" } },
  SendBulkMessage = { "POST", "/api/v1/messages/bulk/", "messages", "send_bulk",
    body = { "ids", "body", "study_id", "study" },
    prepare = function(label, args)
      unalias(label, args)
      if type(args.ids) ~= "table" or #args.ids == 0 then
        util.misuse(label, "ids must be a non-empty array of participant ids")
      end
      local ids = {}
      for i, id in ipairs(args.ids) do
        if type(id) == "table" then id = id.participant or id.participant_id or id.id end
        ids[i] = util.check_id(label, ("ids[%d]"):format(i), id)
      end
      args.ids = ids
      need_id(label, args, "study_id")
      check_body(label, args)
      return args
    end },
  SendGroupMessage = { "POST", "/api/v1/messages/participant-group/", "messages",
    "send_to_group", body = { "participant_group_id", "body", "study_id", "group", "study" },
    prepare = function(label, args)
      unalias(label, args)
      need_id(label, args, "participant_group_id")
      if args.study_id ~= nil then util.check_id(label, "study_id", args.study_id) end
      check_body(label, args)
      return args
    end },
}

--- `Message 2024-05-01T10:20 from 60bf9a2c…: Hello, I could not load…`
function M.tostring(m)
  local body = tostring(m.body or "")
  if compat.utf8_len(body) and compat.utf8_len(body) > 40 then
    body = body:sub(1, compat.utf8_offset(body, 40) - 1) .. "…"
  end
  return ("Message %s from %s: %s"):format(tostring(m.sent_at or ""):sub(1, 16),
    util.short_id(m.sender_id), body)
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = { Message = { tostring = M.tostring } }

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

return M
