--- Prolific messages: send to a participant, to many, to a participant group; read the
-- conversation with someone, and the unread messages.
--
--     p.messages:send{ recipient = sub.participant, study = study.id, body = "Thanks!" }
--     p.messages:send_bulk{ ids = { pid1, pid2 }, study = study.id, body = "..." }
--     p.messages:send_to_group{ group = gid, body = "..." }
--     for m in p.messages:each{ user_id = pid } do print(m) end
--     for m in p.messages:each_unread() do print(m.sender_id, m.body) end
--
-- The short names `recipient`, `study` and `group` stand for `recipient_id`, `study_id` and
-- `participant_group_id`; a Study (or any object with an `id`) may stand for its id. Sending
-- answers `true` (HTTP 204, no body).
-- @module cohort.prolific.messages
local compat = require "cohort.compat"
local util = require "cohort.util"
local studies = require "cohort.prolific.studies"

local M = {}

local function ids_of_objects(args)
  for _, k in ipairs { "recipient_id", "study_id", "participant_group_id" } do
    if type(args[k]) == "table" then args[k] = args[k].id end
  end
end

local function check_send(args, ctx)
  ids_of_objects(args)
  if type(args.body) == "string" and args.body:match("^%s*$") then
    ctx.misuse("body must not be blank (the message text)")
  end
  if type(args.ids) == "table" and #args.ids == 0 then ctx.misuse("ids must not be empty") end
  if type(args.ids) == "table" then -- participants, or Submissions standing for theirs
    local out = {}
    for i, x in ipairs(args.ids) do
      out[i] = type(x) == "table" and (x.participant or x.participant_id) or x
    end
    args.ids = out
  end
  return args
end

local function check_list(args, ctx)
  if args.user_id == nil and args.created_after == nil then
    ctx.misuse("give user_id (the other person) or created_after (ISO 8601 or Unix time)")
  end
  args.created_after = studies.iso(args.created_after)
  return args
end

local SHORT = { recipient = "recipient_id", study = "study_id", group = "participant_group_id" }

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "SendMessage", resource = "messages", name = "send", aliases = SHORT,
    prepare = check_send },
  { op = "GetMessages", resource = "messages", name = "list", class = "Message",
    prepare = check_list },
  { op = "GetUnreadMessages", resource = "messages", name = "unread", class = "Message" },
  { op = "SendBulkMessage", resource = "messages", name = "send_bulk", aliases = SHORT,
    prepare = check_send, note = "`ids`: participant ids (Submissions stand for their participants)" },
  { op = "SendGroupMessage", resource = "messages", name = "send_to_group", aliases = SHORT,
    prepare = check_send },
}

--- `Message 2024-05-01T10:20 from 60bf9a2c…: Hello, I could not load…`
-- @tparam table m
-- @treturn string
function M.tostring(m)
  local body = tostring(m.body or "")
  if compat.utf8_len(body) and compat.utf8_len(body) > 40 then
    body = body:sub(1, compat.utf8_offset(body, 40) - 1) .. "…"
  end
  return ("Message %s from %s: %s"):format(tostring(m.sent_at or ""):sub(1, 16),
    util.short_id(m.sender_id), body)
end

--- Classes.
M.classes = { Message = { var = "message", tostring = M.tostring } }

return M
