-- 003_generation: writing tools (prompt templates operators can edit) and generations.
--
-- Conventions as in 001: InnoDB, utf8mb4, DATETIME(6) UTC written from the app's clock.

-- Writing tools (GET /writing/tools). Operators add or disable tools with plain SQL, no rebuild:
-- system_prompt is sent as the system message, and user_template wraps the user's prompt,
-- with {prompt} replaced by it.
CREATE TABLE writing_tools (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    tool_type VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name VARCHAR(64) NOT NULL,
    description VARCHAR(255) NOT NULL,
    system_prompt TEXT NOT NULL,
    user_template TEXT NOT NULL,
    active TINYINT NOT NULL DEFAULT 1,
    sort_order INT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE KEY uq_writing_tools_type (tool_type)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

INSERT INTO writing_tools (tool_type, name, description, system_prompt, user_template, sort_order) VALUES
    ('article', '文章写作', '根据主题写一篇结构完整的文章',
     '你是一位专业的中文写作者。请写结构清晰、内容充实、语言流畅的文章，使用 Markdown 小标题。',
     '请围绕以下主题写一篇文章：\n{prompt}', 1),
    ('title', '标题生成', '为内容生成多个吸引人的标题',
     '你是一位资深编辑，擅长拟定吸引读者又不夸张的标题。',
     '请为以下内容生成 5 个不同风格的标题，每行一个：\n{prompt}', 2),
    ('summary', '内容摘要', '提炼文本的要点',
     '你擅长提炼要点，摘要准确、简洁，不添加原文没有的信息。',
     '请为以下内容写一段 200 字以内的摘要：\n{prompt}', 3),
    ('polish', '文字润色', '改进表达，保持原意',
     '你是一位细致的文字编辑。润色时保持原意和语气，修正语病，使表达更自然。',
     '请润色以下文字，只输出润色后的结果：\n{prompt}', 4),
    ('translate', '翻译', '中英互译',
     '你是一位专业译者。中文译为英文，其他语言译为中文；译文准确、地道。',
     '请翻译以下内容：\n{prompt}', 5),
    ('xiaohongshu', '小红书文案', '写小红书风格的种草文案',
     '你是小红书爆款文案写手：口语化、有情绪、分段短、适量 emoji，结尾附 3-5 个话题标签。',
     '请为以下主题写一篇小红书笔记：\n{prompt}', 6),
    ('marketing', '营销文案', '产品推广与广告文案',
     '你是一位营销文案专家，突出卖点与用户利益，语言有感染力但不虚假宣传。',
     '请为以下产品或活动写一段营销文案：\n{prompt}', 7);

-- One row per generation (text, vision or image). status: RUNNING until the outcome is known,
-- then SUCCEEDED, FAILED (refunded) or ABORTED (the client left: the charge stands if a delta
-- was delivered, else it was refunded). charge_id is the CONSUME ledger row (NULL for members,
-- who pay 0); refund_id the REFUND row. The refund itself is made at most once by the ledger's
-- UNIQUE (refund_of) key; status moves only by conditional UPDATE ... WHERE status = 'RUNNING',
-- so the request thread, the recovery job and the image poller on any host can race and only
-- one of them finishes a generation.
--
-- A RUNNING text generation older than the upstream timeout plus a margin belongs to a worker
-- that died: the recovery job fails and refunds it. Image tasks stay RUNNING while DashScope
-- works on them; the poller finishes them.
CREATE TABLE generations (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id BIGINT UNSIGNED NOT NULL,
    kind VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    tool_type VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
    provider VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    model VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    stream TINYINT NOT NULL DEFAULT 0,
    status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    prompt TEXT NOT NULL,
    content MEDIUMTEXT NULL,
    images TEXT NULL,
    credits_charged BIGINT NOT NULL DEFAULT 0,
    charge_id BIGINT UNSIGNED NULL,
    refund_id BIGINT UNSIGNED NULL,
    delivered TINYINT NOT NULL DEFAULT 0,
    finish_reason VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
    input_tokens INT NOT NULL DEFAULT 0,
    output_tokens INT NOT NULL DEFAULT 0,
    upstream_request_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    task_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    error_code VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_generations_task (task_id),
    KEY ix_generations_user_created (user_id, created_at),
    KEY ix_generations_user_status (user_id, status),
    KEY ix_generations_status_updated (status, updated_at),
    CONSTRAINT fk_generations_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_generations_kind CHECK (kind IN ('text', 'vision', 'image')),
    CONSTRAINT ck_generations_status CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
