-- 005_generation_progress: a text generation outlives its reader (README, "Generation (Qwen)").
--
-- The worker running a generation stores its text as it arrives (about once a second, and at the end), so
-- a reader can reattach on any worker or host and read the rest, and recovery knows what happened
-- to a generation whose worker died:
--   deltas          how many upstream deltas the stored text holds (the SSE event ids are 1..deltas)
--   delta_ends      where each of them ends in `content`: byte offsets, comma-terminated
--                   ("5,12,20,"), so a reattach after event N replays exactly the deltas after N
--   first_delta_at  when the first delta was stored: a stop before it is refunded, after it not
--   heartbeat_at    the generation's last sign of life, written with each flush and at
--                   least every 5 s; recovery refunds only a RUNNING row whose heartbeat stopped
--   cancel_requested_at  the owner's stop (POST /writing/generations/{id}/cancel), polled by the
--                   worker running the generation
--   end_reason      why it ended: completed, upstream_error, task_failed, cancelled, worker_lost
--   task_status     an image task's status as DashScope last reported it (PENDING, RUNNING):
--                   GET /image/tasks/{id} answers from the row when it was checked under 2 s ago
--
-- From here on generations.charge_id stays NULL: the charge is the CONSUME ledger row whose
-- related_generation_id is the generation (one UPDATE less per start); older rows keep theirs.
ALTER TABLE generations
    ADD COLUMN deltas INT NOT NULL DEFAULT 0 AFTER content,
    ADD COLUMN delta_ends MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_bin NULL AFTER deltas,
    ADD COLUMN first_delta_at DATETIME(6) NULL AFTER delta_ends,
    ADD COLUMN heartbeat_at DATETIME(6) NULL AFTER first_delta_at,
    ADD COLUMN cancel_requested_at DATETIME(6) NULL AFTER heartbeat_at,
    ADD COLUMN end_reason VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER finish_reason,
    ADD COLUMN task_status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER task_id;

-- Rows from before this migration: their last update is their last sign of life.
UPDATE generations SET heartbeat_at = updated_at WHERE heartbeat_at IS NULL;

ALTER TABLE generations
    MODIFY COLUMN heartbeat_at DATETIME(6) NOT NULL,
    ADD KEY ix_generations_status_heartbeat (status, heartbeat_at),
    ADD KEY ix_generations_status_cancel (status, cancel_requested_at);
