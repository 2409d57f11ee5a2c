--- Review a study's submissions by a rule: approve, reject, pay bonuses — planned, printed,
-- then carried out through a journal.
--
--     local plan = assert(cohort.review(study, {         -- a Study, or {client = p, id = "60ac…"}
--       responses = q.responses:each(7654321),            -- or survey:responses(), or an array
--       rule = function(sub, resp, pair)
--         if not resp then
--           return { action = "reject", category = "NO_DATA", message = NO_DATA_MESSAGE }
--         end
--         return { action = "approve", bonus = 0.50 }     -- bonus in MAJOR units (£0.50)
--       end,
--     }))                                                 -- dry_run = true: prints, sends nothing
--     cohort.review(study, { responses = …, rule = …, dry_run = false,
--       journal = "cohort-60aca280709ee40ec37d4885.sqlite" })
--
-- **What it does.** It lists the study's AWAITING REVIEW submissions, joins them with the
-- responses (`cohort.workbench.reconcile`; `by` chooses the key), and calls `rule(submission, response,
-- pair)` for each — `response` is nil for a submission without one, `pair` (nil then too) has
-- `responses` and `duplicate` when a participant answered more than once. The rule returns a
-- decision:
--
-- * `{action = "approve", bonus = x}` — approve; `bonus` (optional) in MAJOR units (0.50 = £0.50,
--   at most 2 decimals);
-- * `{action = "reject", category = "NO_DATA", message = "…"}` — reject; `category` is a
--   Prolific rejection category, `message` at least 100 characters (Prolific's rule); a bonus
--   cannot go with a rejection;
-- * `{action = "skip", bonus = x}` — leave the submission as it is (for a manual look), with an
--   optional bonus;
-- * the strings `"approve"` and `"skip"` are short for `{action = …}`.
--
-- Every decision is checked before anything is sent; a bad one raises naming the submission and
-- the field (`cohort: cohort.review(): submission 66300a1b…: message must be a text of at least
-- 100 characters for REJECT (got 12 characters)`). The plan is printed as a table (to
-- `opts.out`, default `io.stdout`; `out = false` prints nothing) and returned.
--
-- **Carrying it out.** With `dry_run = false` the plan goes through
-- `p.submissions:approve_all`, `p.submissions:reject_all` and `p.bonuses:pay_all`, in that
-- order, with `journal` — **required** then, so that money and transitions can always be
-- resumed: running the same review again with the same journal (after a crash, or just again)
-- does nothing twice. The journal records each decision that does something (approve, reject,
-- or a bonus; a plain skip is not recorded, so the rule sees that submission again next time);
-- a re-run reuses those recorded decisions instead of asking the rule again, counts an approval
-- or rejection as done when it is recorded or the submission is no longer AWAITING REVIEW, and
-- pays a bonus only when no recorded payment run holds it (an interrupted run is completed
-- with exactly its rows, which `pay_all`'s own journal then settles). To decide afresh with a
-- changed rule, submissions still AWAITING REVIEW need a new journal — bonuses already paid are
-- then not known to it, so keep the rule's bonuses on the decisions that change status.
-- @module cohort.workbench.review
local util = require "cohort.util"
local journal = require "cohort.workbench.journal"
local reconcile = require "cohort.workbench.reconcile"
local progress = require "cohort.prompt.progress"
local submissions = require "cohort.prolific.submissions"
local money_guard = require "cohort.workbench.money"

local M = {}

local LABEL = "cohort.review()"

local OPTIONS = { responses = true, rule = true, by = true, dry_run = true, journal = true,
  progress = true, out = true, max_bonus = true }

local ACTIONS = { approve = true, reject = true, skip = true }

local DECISION_KEYS = { action = true, category = true, message = true, bonus = true }

-- ------------------------------------------------------------------ the study and its client

-- The client an object came from: its class's `__client` (see `Client:define_class`).
local function client_of(obj)
  local mt = getmetatable(obj)
  return type(mt) == "table" and rawget(mt, "__client") or nil
end

local function resolve_study(study)
  if type(study) ~= "table" then
    util.misuse(LABEL, "study must be a Study object or {client = <Prolific client>, id = "
      .. "<study id>} (got %s)", type(study) == "string" and ("%q"):format(study) or type(study))
  end
  local mt = getmetatable(study)
  local client, id
  if type(mt) == "table" and rawget(mt, "__name") == "cohort.Study" then
    client, id = client_of(study), study.id
    if client == nil then
      util.misuse(LABEL, "cannot find the client of this Study; pass {client = p, id = study.id}")
    end
  else
    util.check_keys(LABEL .. " study", study, { client = true, id = true })
    client, id = study.client, study.id
    if type(id) == "table" then id = id.id end
  end
  util.check_id(LABEL, "study id", id)
  if type(client) ~= "table" or type(client.submissions) ~= "table"
      or type(client.bonuses) ~= "table" then
    util.misuse(LABEL, "study.client must be a Prolific client (cohort.prolific{...})")
  end
  return client, id
end

-- ------------------------------------------------------------------ decisions

local function is_money(v)
  if type(v) ~= "number" or v ~= v or v == math.huge or v <= 0 then return false end
  local cents = v * 100
  return math.abs(cents - math.floor(cents + 0.5)) <= 1e-6
end

local function sorted(set)
  local t = {}
  for k in pairs(set) do t[#t + 1] = k end
  table.sort(t)
  return table.concat(t, ", ")
end

--- Check one decision of the rule; raise naming the submission and the field.
-- @tparam table sub the submission
-- @param d what the rule returned
-- @treturn table `{action, category, message, bonus}` (action in lower case)
function M.check_decision(sub, d)
  local where = ("%s: submission %s"):format(LABEL, tostring(sub.id))
  if type(d) == "string" then
    if d:lower() == "reject" then
      util.misuse(where, "the rule returned \"reject\": a rejection needs a table {action = "
        .. "\"reject\", category = ..., message = ...}")
    end
    d = { action = d }
  end
  if type(d) ~= "table" then
    util.misuse(where, "the rule must return a table {action = \"approve\"|\"reject\"|\"skip\", "
      .. "...} (got %s)", type(d))
  end
  for k in pairs(d) do
    if not DECISION_KEYS[k] then
      util.misuse(where, "unknown field '%s' in the rule's decision (fields: action, category, "
        .. "message, bonus)", tostring(k))
    end
  end
  local action = type(d.action) == "string" and d.action:lower() or nil
  if not ACTIONS[action] then
    util.misuse(where, "action must be one of approve, reject, skip (got %s)",
      type(d.action) == "string" and ("%q"):format(d.action) or tostring(d.action))
  end
  local out = { action = action }
  if action == "reject" then
    if not submissions.REJECTION_CATEGORIES[d.category] then
      util.misuse(where, "category must be one of %s (got %s)",
        sorted(submissions.REJECTION_CATEGORIES), tostring(d.category))
    end
    submissions.prepare_transition(where, { action = "REJECT", message = d.message,
      rejection_category = d.category })
    if d.bonus ~= nil then
      util.misuse(where, "bonus cannot go with reject (pay it with approve or skip)")
    end
    out.category, out.message = d.category, d.message
  else
    if d.category ~= nil then util.misuse(where, "category applies to reject only") end
    if d.message ~= nil then util.misuse(where, "message applies to reject only") end
  end
  if d.bonus ~= nil then
    if not is_money(d.bonus) then
      util.misuse(where, "bonus must be an amount in MAJOR units greater than 0 with at most 2 "
        .. "decimals, e.g. 0.50 for £0.50 (got %s)", tostring(d.bonus))
    end
    out.bonus = d.bonus
  end
  return out
end

-- ------------------------------------------------------------------ the journal's records

local function decision_key(study, sub_id) return ("review:%s:%s"):format(study, sub_id) end

-- What the journal at `path` already knows of this study: decisions and bonus runs.
local function read_state(path, study)
  local state = { decisions = {}, order = {}, runs = {}, transitions = {} }
  if path == nil then return state end
  -- create = false: no journal yet is nothing decided yet (never an io.open of a store file:
  -- closing it would drop the POSIX locks SQLite holds on it in this process)
  local j, err = journal.open(path, LABEL, { create = false })
  if not j then
    if err.code == "NOT_FOUND" then return state end
    return nil, err
  end
  for _, rec in pairs(j.outcomes) do
    if rec.study == study and rec.step == "review-decide" and type(rec.submission) == "string" then
      if not state.decisions[rec.submission] then state.order[#state.order + 1] = rec.submission end
      state.decisions[rec.submission] = rec
    elseif rec.study == study and (rec.step == "review-approve" or rec.step == "review-reject")
        and rec.ok then
      state.transitions[rec.submission] = true
    end
  end
  table.sort(state.order, function(a, b) -- the order they were decided in
    local ra, rb = state.decisions[a], state.decisions[b]
    if ra.time ~= rb.time then return (ra.time or 0) < (rb.time or 0) end
    if ra.index ~= rb.index then return (ra.index or 0) < (rb.index or 0) end
    return a < b
  end)
  for _, k in ipairs(j.order) do
    local rec = j.intents[k]
    if rec.step == "review-bonus" and rec.study == study and type(rec.rows) == "table" then
      local done = j:outcome(rec.key, rec.step)
      state.runs[#state.runs + 1] = { key = rec.key, rows = rec.rows,
        done = done ~= nil and done.ok == true }
    end
  end
  j:close()
  return state
end

local function with_journal(path, fn)
  local j, err = journal.open(path, LABEL)
  if not j then return nil, err end
  local ok, e = pcall(fn, j)
  j:close()
  if not ok then error(e, 0) end
  return true
end

-- ------------------------------------------------------------------ printing

local function cut(s, n)
  s = tostring(s or "")
  if (utf8 and utf8.len(s) or #s) <= n then return s end
  local out, count = {}, 0
  for ch in s:gmatch("[%z\1-\127\194-\244][\128-\191]*") do
    count = count + 1
    if count >= n then break end
    out[#out + 1] = ch
  end
  return table.concat(out) .. "…"
end

local function response_id(r)
  if type(r) ~= "table" then return "-" end
  local ok, id = pcall(function() return r.responseID or r.id or r._id end)
  return ok and id and tostring(id) or "?"
end

local function pad(s, n)
  local len = utf8 and utf8.len(s) or #s
  if len >= n then return s end
  return s .. (" "):rep(n - len)
end

local function money(x) return ("%.2f"):format(x) end

--- Write the plan as a table.
-- @tparam table plan what `review` returns
-- @param out a file (or an object with `write`)
function M.print_plan(plan, out)
  local rows = { { "#", "submission", "participant", "response", "action", "category", "bonus",
    "note" } }
  for i, d in ipairs(plan.decisions) do
    local notes = {}
    if d.done then
      notes[#notes + 1] = d.pending_review and "done" or "done earlier"
    elseif d.transition_done and d.action ~= "skip" then
      notes[#notes + 1] = d.action .. " done, bonus to pay"
    elseif d.bonus_done then
      notes[#notes + 1] = "bonus paid"
    end
    if d.from_journal and d.pending_review then notes[#notes + 1] = "decided earlier" end
    if d.response == nil and d.pending_review and not d.from_journal then
      notes[#notes + 1] = "no response"
    end
    if d.pair and d.pair.duplicate then
      notes[#notes + 1] = ("%d responses"):format(#d.pair.responses)
    end
    if d.message then notes[#notes + 1] = cut(d.message, 40) end
    rows[#rows + 1] = { tostring(i), tostring(d.submission.id),
      tostring(d.participant_id or "-"), d.from_journal and "" or response_id(d.response),
      d.action, d.category or "", d.bonus and money(d.bonus) or "", table.concat(notes, "; ") }
  end
  local widths = {}
  for _, r in ipairs(rows) do
    for c, v in ipairs(r) do
      local len = utf8 and utf8.len(v) or #v
      if len > (widths[c] or 0) then widths[c] = len end
    end
  end
  local c = plan.counts
  out:write(("Review of study %s: %d awaiting review, %d with a response, %d without; "
    .. "%d responses without a submission awaiting review%s\n"):format(plan.study,
    plan.awaiting_review, plan.with_response, #plan.missing_response, #plan.orphan_responses,
    #plan.duplicates > 0 and (", %d participants with several responses"):format(#plan.duplicates)
      or ""))
  for _, r in ipairs(rows) do
    local cells = {}
    for i, v in ipairs(r) do cells[i] = i < #r and pad(v, widths[i]) or v end
    out:write((table.concat(cells, "  "):gsub("%s+$", "")), "\n")
  end
  out:write(("Plan: %d approve, %d reject, %d skip; %d bonuses, %s in total (major units)\n")
    :format(c.approve, c.reject, c.skip, c.bonus, money(c.bonus_total)))
  local t = plan.todo
  out:write(("To do: %d approvals, %d rejections, %d bonuses (%s, major units)%s\n"):format(
    t.approve, t.reject, t.bonus, money(t.bonus_total),
    plan.dry_run and " — dry run: nothing sent" or ""))
end

-- ------------------------------------------------------------------ review

local function check_opts(opts)
  if type(opts) ~= "table" then
    util.misuse(LABEL, "expected a table of options {responses = ..., rule = ..., dry_run = ...}")
  end
  util.check_keys(LABEL, opts, OPTIONS)
  if type(opts.rule) ~= "function" then
    util.misuse(LABEL, "rule must be a function(submission, response, pair) returning "
      .. "{action = ..., category =, message =, bonus =} (got %s)", type(opts.rule))
  end
  if opts.responses == nil then
    util.misuse(LABEL, "responses is required (an array or an iterator; {} when there are none)")
  end
  reconcile.source(LABEL, "responses", opts.responses)
  reconcile.key_function(LABEL, opts.by)
  if opts.dry_run ~= nil and type(opts.dry_run) ~= "boolean" then
    util.misuse(LABEL, "dry_run must be true or false")
  end
  if opts.journal ~= nil and (type(opts.journal) ~= "string" or opts.journal == "") then
    util.misuse(LABEL, "journal must be a file path")
  end
  if opts.dry_run == false and opts.journal == nil then
    util.misuse(LABEL, "journal is required with dry_run = false: give a file path "
      .. "(e.g. journal = \"cohort-<study id>.sqlite\", the study's store) so that approvals, rejections and bonus payments "
      .. "can be resumed after a failure without doing anything twice")
  end
  if opts.progress ~= nil and type(opts.progress) ~= "boolean" then
    util.misuse(LABEL, "progress must be true or false")
  end
  money_guard.check_max_bonus(LABEL, opts.max_bonus)
  local out = opts.out
  if out == nil then
    out = io.stdout
  elseif out ~= false then
    local writable = io.type(out) == "file" or ((type(out) == "table" or type(out) == "userdata")
      and pcall(function() return out.write end) and type(out.write) == "function")
    if not writable then
      util.misuse(LABEL, "out must be an open file, an object with write, or false")
    end
  end
  return out
end

--- Review a study's AWAITING REVIEW submissions by a rule (see the module description).
-- @param study a Study object, or `{client = p, id = "<study id>"}`
-- @tparam table opts `responses` (array or iterator of survey responses; `{}` for none),
--   `rule` (`function(submission, response_or_nil, pair_or_nil)` → decision), `by` (the
--   reconcile key, see `cohort.workbench.reconcile`), `dry_run` (default `true`), `journal` (file path;
--   required when `dry_run = false`), `progress` (`false` hides the bar), `out` (where the
--   plan is printed: a file, default `io.stdout`, or `false`), `max_bonus` (as for
--   `p.bonuses:pay_all`: every bonus of the plan is checked against it — by default 5 × the
--   study's reward — before anything is sent, dry run or not)
-- @treturn[1] table the plan: `study`, `dry_run`, `decisions` (`{submission, response, pair,
--   participant_id, action, category, message, bonus (MAJOR units), from_journal, done,
--   transition_done, bonus_done, pending_review}` in the order of the listing, then the
--   submissions decided in an earlier run), `missing_response`, `orphan_responses`,
--   `duplicates` (see `cohort.workbench.reconcile`), `awaiting_review`, `with_response`, `counts`
--   (`approve`, `reject`, `skip`, `bonus`, `bonus_total` in MAJOR units), `todo` (the same for
--   what is left to do), and with `dry_run = false` `outcome` (`approved`, `rejected`,
--   `bonuses_paid` (rows), `bonus_batches` (ids), `skipped` (already done: rows the helpers
--   skipped))
-- @return[2] nil
-- @treturn[2] cohort.Error a failed listing, response iterator, journal file or action (what
--   was done before it stays done and journaled: run again to finish)
function M.review(study, opts)
  local client, study_id = resolve_study(study)
  local out = check_opts(opts)
  local dry = opts.dry_run ~= false

  -- 1. what is awaiting review, and the responses
  local subs, err = client.submissions:all { study = study_id, status = "AWAITING REVIEW" }
  if not subs then return nil, err end
  local joined, jerr = reconcile.reconcile { submissions = subs, responses = opts.responses,
    by = opts.by }
  if not joined then return nil, jerr end
  local pair_of = {}
  for _, pair in ipairs(joined.pairs) do pair_of[pair.submission] = pair end

  -- 2. what an earlier run with this journal decided and did
  local state, serr = read_state(opts.journal, study_id)
  if not state then return nil, serr end
  local paid_in, uncertain_runs = {}, {}
  for _, run in ipairs(state.runs) do
    for _, row in ipairs(run.rows) do paid_in[row[1]] = run end
    if not run.done then uncertain_runs[#uncertain_runs + 1] = run end
  end

  -- 3. a decision for every submission: recorded, or the rule's (checked)
  local plan = { study = study_id, dry_run = dry, journal = opts.journal, decisions = {},
    missing_response = joined.missing_response, orphan_responses = joined.orphan_responses,
    duplicates = joined.duplicates, awaiting_review = #subs, with_response = #joined.pairs }
  local listed = {}
  for _, sub in ipairs(subs) do
    listed[sub.id] = true
    local pair = pair_of[sub]
    local rec = state.decisions[sub.id]
    local d
    if rec then
      d = { action = rec.action, category = rec.category, message = rec.message,
        bonus = rec.bonus, from_journal = true }
    else
      d = M.check_decision(sub, opts.rule(sub, pair and pair.response or nil, pair))
    end
    d.submission, d.pair, d.response = sub, pair, pair and pair.response or nil
    d.participant_id = reconcile.submission_participant(sub)
    d.pending_review = true
    plan.decisions[#plan.decisions + 1] = d
  end
  for _, sub_id in ipairs(state.order) do
    if not listed[sub_id] then
      local rec = state.decisions[sub_id]
      plan.decisions[#plan.decisions + 1] = { submission = { id = sub_id },
        participant_id = rec.participant, action = rec.action, category = rec.category,
        message = rec.message, bonus = rec.bonus, from_journal = true, pending_review = false }
    end
  end

  -- 4. what is left to do
  local counts = { approve = 0, reject = 0, skip = 0, bonus = 0, bonus_total = 0 }
  local todo = { approve = 0, reject = 0, bonus = 0, bonus_total = 0 }
  local approve_ids, reject_items, new_bonus, new_records = {}, {}, {}, {}
  for _, d in ipairs(plan.decisions) do
    local id = d.submission.id
    counts[d.action] = counts[d.action] + 1
    d.transition_done = d.action == "skip" or state.transitions[id] == true or not d.pending_review
    if not d.transition_done then
      todo[d.action] = todo[d.action] + 1
      if d.action == "approve" then
        approve_ids[#approve_ids + 1] = id
      else
        reject_items[#reject_items + 1] = { id = id, category = d.category, message = d.message }
      end
    end
    if d.bonus then
      counts.bonus, counts.bonus_total = counts.bonus + 1, counts.bonus_total + d.bonus
      local run = paid_in[id]
      d.bonus_done = run ~= nil and run.done
      if not run then
        new_bonus[#new_bonus + 1] = { id, d.bonus }
      end
      if not d.bonus_done then
        todo.bonus, todo.bonus_total = todo.bonus + 1, todo.bonus_total + d.bonus
      end
    end
    d.done = d.transition_done and (d.bonus == nil or d.bonus_done)
    if not d.from_journal and (d.action ~= "skip" or d.bonus) then new_records[#new_records + 1] = d end
  end
  plan.counts, plan.todo = counts, todo
  -- the bonus limit of pay_all, checked on the plan: a bonus the rule got wrong (150 meant as
  -- pence pays £150) raises here, before any approval or rejection is sent
  if #new_bonus > 0 then
    local limit, lerr = money_guard.bonus_limit(client, study, opts.max_bonus)
    if limit == nil then return nil, lerr end
    local entries = {}
    for i, row in ipairs(new_bonus) do
      entries[i] = { id = row[1], text = money(row[2]), minor = math.floor(row[2] * 100 + 0.5),
        where = ("submission %s: bonus"):format(row[1]) }
    end
    money_guard.check_limit(client, LABEL, entries, limit)
  end
  if out then M.print_plan(plan, out) end
  if dry then return plan end
  if todo.approve + todo.reject + todo.bonus == 0 and #uncertain_runs == 0 then
    plan.outcome = { approved = 0, rejected = 0, bonuses_paid = 0, bonus_batches = {}, skipped = 0 }
    if out then out:write("Nothing to do: every decision is carried out already.\n") end
    return plan
  end

  -- 5. carry it out, journaled
  local path = opts.journal
  local bar = progress.new { label = "review", total = todo.approve + todo.reject + todo.bonus,
    enabled = opts.progress }
  local outcome = { approved = 0, rejected = 0, bonuses_paid = 0, bonus_batches = {}, skipped = 0 }
  plan.outcome = outcome
  local function fail(e)
    bar:finish()
    return nil, e
  end
  if #new_records > 0 then
    local ok, e = with_journal(path, function(j)
      for i, d in ipairs(new_records) do
        j:finish(decision_key(study_id, d.submission.id), "review-decide", { study = study_id,
          submission = d.submission.id, participant = d.participant_id, action = d.action,
          category = d.category, message = d.message, bonus = d.bonus, index = i })
      end
    end)
    if not ok then return fail(e) end
  end
  local function record(step, ids)
    return with_journal(path, function(j)
      for _, id in ipairs(ids) do
        j:finish(decision_key(study_id, id), step, { study = study_id, submission = id, ok = true })
      end
    end)
  end
  if #approve_ids > 0 then
    local run, e = client.submissions:approve_all { ids = approve_ids, study = study_id,
      journal = path }
    if not run then return fail(e) end
    outcome.approved, outcome.skipped = run.approved, outcome.skipped + run.skipped
    local ok, re = record("review-approve", approve_ids)
    if not ok then return fail(re) end
    bar:add(#approve_ids)
  end
  if #reject_items > 0 then
    local run, e = client.submissions:reject_all { items = reject_items, journal = path }
    if not run then return fail(e) end
    outcome.rejected, outcome.skipped = run.rejected, outcome.skipped + run.skipped
    local ids = {}
    for i, item in ipairs(reject_items) do ids[i] = item.id end
    local ok, re = record("review-reject", ids)
    if not ok then return fail(re) end
    bar:add(#reject_items)
  end
  -- bonuses: first the runs an earlier review began but did not see finish (exactly the same
  -- rows, so pay_all's journal settles them), then the new ones
  local runs = {}
  for _, run in ipairs(uncertain_runs) do runs[#runs + 1] = { key = run.key, rows = run.rows, old = true } end
  if #new_bonus > 0 then
    local text = {}
    for i, row in ipairs(new_bonus) do text[i] = row[1] .. "," .. money(row[2]) end
    runs[#runs + 1] = { key = ("review:%s:bonus:%s"):format(study_id,
      journal.digest(table.concat(text, "\n"))), rows = new_bonus }
  end
  for _, run in ipairs(runs) do
    if not run.old then
      local ok, e = with_journal(path, function(j)
        j:begin(run.key, "review-bonus", { study = study_id, rows = run.rows })
      end)
      if not ok then return fail(e) end
    end
    local paid, e = client.bonuses:pay_all { study = study_id, bonuses = run.rows, journal = path,
      max_bonus = opts.max_bonus }
    if not paid then return fail(e) end
    outcome.bonuses_paid = outcome.bonuses_paid + paid.paid
    outcome.skipped = outcome.skipped + paid.skipped + paid.verified
    for _, b in ipairs(paid.batches) do outcome.bonus_batches[#outcome.bonus_batches + 1] = b end
    local ok, je = with_journal(path, function(j)
      j:finish(run.key, "review-bonus", { study = study_id, ok = true, paid = paid.paid })
    end)
    if not ok then return fail(je) end
    for _, row in ipairs(run.rows) do
      for _, d in ipairs(plan.decisions) do
        if d.submission.id == row[1] then d.bonus_done = true end
      end
    end
    bar:add(#run.rows)
  end
  bar:finish()
  for _, d in ipairs(plan.decisions) do
    d.transition_done = true
    d.done = d.bonus == nil or d.bonus_done == true
  end
  if out then
    out:write(("Done: %d approved, %d rejected, %d bonuses paid in %d batch%s%s\n"):format(
      outcome.approved, outcome.rejected, outcome.bonuses_paid, #outcome.bonus_batches,
      #outcome.bonus_batches == 1 and "" or "es",
      outcome.skipped > 0 and (" (%d already done)"):format(outcome.skipped) or ""))
  end
  return plan
end

return M
