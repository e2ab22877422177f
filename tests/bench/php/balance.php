<?php
// The LAMP peer of `make bench` (README, "Performance"): GET /api/v1/credit/balance as a
// php-fpm + PDO application would write it, doing the same work as inkstone for that route:
// the same opaque-token check (Bearer, 43 base64url characters decoding to 32 bytes), the same
// single SELECT of the token's SHA-256 joined with users, the same body. A persistent PDO
// connection per php-fpm child (PDO's default client-side prepares: one round trip per
// request, like inkstone's cached server-side statement). Database settings come from the
// pool's env[] (written by tests/bench/bench_main.cpp).

const SESSION_SQL =
    'SELECT u.id, u.username, u.email, u.role, u.credits, u.member_expired_at, u.created_at, ' .
    'LOWER(HEX(t.token_hash)) AS token_hash ' .
    'FROM auth_tokens t JOIN users u ON u.id = t.user_id ' .
    'WHERE t.token_hash = UNHEX(?) AND t.revoked_at IS NULL AND t.expires_at > ?';

function reply(int $status, string $body): void {
    http_response_code($status);
    header('Content-Type: application/json');
    header('Cache-Control: no-store');
    echo $body;
}

function unauthorized(): void {
    reply(401, '{"code":"UNAUTHORIZED","detail":"missing, invalid or expired token"}');
}

$header = $_SERVER['HTTP_AUTHORIZATION'] ?? '';
if (!preg_match('/^\s*bearer\s+([A-Za-z0-9_-]{43})\s*$/i', $header, $m)) {
    unauthorized();
    return;
}
$bytes = base64_decode(strtr($m[1], '-_', '+/') . '=', true);
if ($bytes === false || strlen($bytes) !== 32) {
    unauthorized();
    return;
}
$hash = hash('sha256', $bytes);

try {
    $db = new PDO(getenv('BENCH_DB_DSN'), getenv('BENCH_DB_USER'), getenv('BENCH_DB_PASSWORD'), [
        PDO::ATTR_PERSISTENT => true,
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
    ]);
    $now = gmdate('Y-m-d H:i:s');
    $stmt = $db->prepare(SESSION_SQL);
    $stmt->execute([$hash, $now]);
    $row = $stmt->fetch(PDO::FETCH_ASSOC);
    $stmt->closeCursor();
} catch (PDOException $e) {
    reply(503, '{"code":"UNAVAILABLE","detail":"database error"}');
    return;
}
if ($row === false || !hash_equals($row['token_hash'], $hash)) {
    unauthorized();
    return;
}
$until = $row['member_expired_at'];
$member = $until !== null && strncmp($until, $now, 19) > 0;
// jsoncpp's key order (sorted), and times as inkstone shows them.
reply(200, '{"cost_per_generation":' . (int)getenv('BENCH_COST') .
    ',"credits":' . (int)$row['credits'] .
    ',"is_member":' . ($member ? 'true' : 'false') .
    ',"member_expired_at":' .
    ($until === null ? 'null' : '"' . substr($until, 0, 10) . 'T' . substr($until, 11, 8) . 'Z"') .
    '}');
