#!/bin/bash
# docs/deploy.md step by step, inside the throwaway root that run.sh makes (never on a real
# host: it creates users, databases and sites). STAND-IN marks what replaces a systemctl
# command, as there is no systemd here. $DEB: the package's file name, in /root.
set -euxo pipefail
cd /root
H=inkstone.example.com
CURL="curl -fsS --resolve $H:443:127.0.0.1 --cacert /etc/letsencrypt/live/$H/fullchain.pem"

## 2. Install
apt-get update -q
apt-get install -y nginx mariadb-server "./$DEB"
id inkstone; ls -ld /etc/inkstone /etc/inkstone/inkstone.conf /var/backups/inkstone

## 3. Database (STAND-IN: start the system MariaDB without systemd)
/etc/init.d/mariadb start
DB_PASSWORD=$(openssl rand -hex 24)
mariadb <<SQL
CREATE DATABASE inkstone CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER 'inkstone'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER 'inkstone'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON inkstone.* TO 'inkstone'@'127.0.0.1', 'inkstone'@'localhost';
SQL

## 4. Configure (self-made keys in place of the providers')
install -d -m 0750 -o root -g inkstone /etc/inkstone/keys
openssl genrsa -out /etc/inkstone/keys/alipay_app_private.pem 2048
openssl genrsa 2048 | openssl rsa -pubout -out /etc/inkstone/keys/alipay_public.pem
openssl genrsa -out /etc/inkstone/keys/apiclient_key.pem 2048
openssl genrsa 2048 | openssl rsa -pubout -out /etc/inkstone/keys/pub_key.pem
chown root:inkstone /etc/inkstone/keys/*.pem && chmod 0640 /etc/inkstone/keys/*.pem
# "Edit /etc/inkstone/inkstone.conf": appended here (secrets in the file: the guide's main path).
cat >>/etc/inkstone/inkstone.conf <<CONF
db.password = "$DB_PASSWORD"
public_base_url = https://$H
qwen.api_key = "sk-walkthrough-not-a-real-key"
alipay.app_id = 2021000000000000
alipay.private_key_file = /etc/inkstone/keys/alipay_app_private.pem
alipay.public_key_file = /etc/inkstone/keys/alipay_public.pem
wechat.mchid = 1900000000
wechat.appid = wx0000000000000000
wechat.apiv3_key = "0123456789abcdef0123456789abcdef"
wechat.private_key_file = /etc/inkstone/keys/apiclient_key.pem
wechat.merchant_serial = 5F2E000000000000000000000000000000000000
wechat.platform_public_key_file = /etc/inkstone/keys/pub_key.pem
wechat.platform_serial = PUB_KEY_ID_0000000000000000000000000000
CONF
cd / && runuser -u inkstone -- inkstone --config /etc/inkstone/inkstone.conf --check-config | tail -2
inkstone-admin --config /etc/inkstone/inkstone.conf check-db && echo "check-db: ok"
# The EnvironmentFile alternative, checked once: the DB password only there, then removed.
sed -i 's/^db.password = .*/# db.password moved to inkstone.env/' /etc/inkstone/inkstone.conf
set +e; inkstone-admin --config /etc/inkstone/inkstone.conf check-db; echo "check-db without the password: status $?"; set -e
install -m 0640 -o root -g inkstone /dev/null /etc/inkstone/inkstone.env
cat >/etc/inkstone/inkstone.env <<ENV
DB_PASSWORD='$DB_PASSWORD'
ENV
ls -l /etc/inkstone/inkstone.env
sh -c 'set -a; . /etc/inkstone/inkstone.env; exec inkstone-admin --config /etc/inkstone/inkstone.conf check-db' && echo "check-db with the env file: ok"
sh -c 'set -a; . /etc/inkstone/inkstone.env; cd / && exec runuser -u inkstone -- inkstone --config /etc/inkstone/inkstone.conf --check-config' | grep '^db.password'
rm /etc/inkstone/inkstone.env
sed -i "s/^# db.password moved to inkstone.env/db.password = \"$DB_PASSWORD\"/" /etc/inkstone/inkstone.conf

## 5. Migrate
inkstone-admin --config /etc/inkstone/inkstone.conf migrate

## 6. nginx (a self-signed certificate at the certbot paths)
mkdir -p /etc/letsencrypt/live/$H
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$H" -addext "subjectAltName=DNS:$H" \
    -keyout /etc/letsencrypt/live/$H/privkey.pem -out /etc/letsencrypt/live/$H/fullchain.pem 2>/dev/null
cat >/etc/nginx/sites-available/inkstone <<'NGINX'
include /usr/share/inkstone/nginx/inkstone-upstream.conf;

server {
    listen 80;
    listen [::]:80;
    server_name inkstone.example.com;
    return 301 https://$host$request_uri;
}

server {
    listen 443 ssl http2;
    listen [::]:443 ssl http2;
    server_name inkstone.example.com;

    ssl_certificate     /etc/letsencrypt/live/inkstone.example.com/fullchain.pem;
    ssl_certificate_key /etc/letsencrypt/live/inkstone.example.com/privkey.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    server_tokens off;

    include /usr/share/inkstone/nginx/inkstone-locations.conf;
}
NGINX
ln -s /etc/nginx/sites-available/inkstone /etc/nginx/sites-enabled/inkstone
rm -f /etc/nginx/sites-enabled/default
nginx -t
/etc/init.d/nginx start     # STAND-IN for systemctl reload nginx

## 7. Start. STAND-IN for systemctl enable --now inkstone: what the unit does, by hand.
grep -E '^(User|Group|SupplementaryGroups|ExecStart|EnvironmentFile)=' /usr/lib/systemd/system/inkstone.service
install -d -m 0750 -o inkstone -g www-data /run/inkstone /var/log/inkstone
/usr/bin/python3 /root/notify.py /run/notify.sock >/root/notify.log 2>&1 &
sleep 0.5
start_server() {
    (set -a; [ ! -f /etc/inkstone/inkstone.env ] || . /etc/inkstone/inkstone.env; set +a; umask 0027
     exec env NOTIFY_SOCKET=/run/notify.sock setpriv --reuid=inkstone --regid=www-data --groups=inkstone -- \
        /usr/bin/inkstone --config /etc/inkstone/inkstone.conf) >>/root/server.stderr 2>&1 &
    echo $! >/root/server.pid
    for i in $(seq 100); do grep -q "READY=1" /root/notify.log && break; sleep 0.1; done
    grep -q "READY=1" /root/notify.log
}
start_server
cat /root/notify.log
ls -l /run/inkstone/inkstone.sock /var/log/inkstone/

## 8. Check
$CURL https://$H/api/v1/health; echo
$CURL https://$H/inkstone-status | head -c 300; echo
curl -fsS -o /dev/null -w 'http -> %{http_code} %{redirect_url}\n' --resolve $H:80:127.0.0.1 http://$H/
$CURL https://$H/ | head -c 120; echo
$CURL -X POST -H 'Content-Type: application/json' -d '{"username":"alice","password":"correct horse battery"}' https://$H/api/v1/auth/register | head -c 200; echo
inkstone-admin --config /etc/inkstone/inkstone.conf grant-admin alice

## 9. Change the config: STAND-IN for systemctl reload inkstone
sed -i 's/^# log.level = info/log.level = debug/' /etc/inkstone/inkstone.conf
cd / && runuser -u inkstone -- inkstone --config /etc/inkstone/inkstone.conf --check-config >/dev/null
: >/root/notify.log
kill -HUP "$(cat /root/server.pid)"
for i in $(seq 150); do grep -q "READY=1" /root/notify.log && break; sleep 0.1; done
cat /root/notify.log
$CURL https://$H/api/v1/health; echo

## 10. Upgrade (the same package again; no newer one exists)
apt-get install -y --reinstall "/root/$DEB"
inkstone-admin --config /etc/inkstone/inkstone.conf migrate
# STAND-IN for systemctl restart inkstone: KillSignal=SIGQUIT, wait, start
: >/root/notify.log
kill -QUIT "$(cat /root/server.pid)"
for i in $(seq 450); do kill -0 "$(cat /root/server.pid)" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$(cat /root/server.pid)" 2>/dev/null
wait "$(cat /root/server.pid)" && echo "server exited with status 0"
cat /root/notify.log
: >/root/notify.log
start_server
$CURL https://$H/api/v1/health; echo

## 11. Back up and restore. STAND-IN for systemctl start inkstone-backup: its ExecStart.
grep -E '^ExecStart=' /usr/lib/systemd/system/inkstone-backup.service
(umask 0077; /usr/lib/inkstone/inkstone-backup)
ls -l /var/backups/inkstone/
DUMP=$(ls /var/backups/inkstone/inkstone-*.sql.gz | tail -1)
mariadb -e 'CREATE DATABASE restore_check'
gunzip -c "$DUMP" | mariadb restore_check
mariadb -e 'SELECT COUNT(*) FROM restore_check.users; DROP DATABASE restore_check'
# The real thing (STAND-IN stop/start as above)
kill -QUIT "$(cat /root/server.pid)"; wait "$(cat /root/server.pid)" || true
mariadb -e 'DROP DATABASE inkstone; CREATE DATABASE inkstone CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci'
gunzip -c "$DUMP" | mariadb inkstone
inkstone-admin --config /etc/inkstone/inkstone.conf migrate
: >/root/notify.log
start_server
$CURL -X POST -H 'Content-Type: application/json' -d '{"username":"alice","password":"correct horse battery"}' https://$H/api/v1/auth/login | head -c 120; echo

## 12. Rotate the database password
NEW=$(openssl rand -hex 24)
mariadb -e "ALTER USER 'inkstone'@'127.0.0.1' IDENTIFIED BY '$NEW'; ALTER USER 'inkstone'@'localhost' IDENTIFIED BY '$NEW';"
sed -i "s/^db.password = .*/db.password = \"$NEW\"/" /etc/inkstone/inkstone.conf
cd / && runuser -u inkstone -- inkstone --config /etc/inkstone/inkstone.conf --check-config >/dev/null
: >/root/notify.log
kill -HUP "$(cat /root/server.pid)"     # STAND-IN for systemctl reload inkstone
for i in $(seq 150); do grep -q "READY=1" /root/notify.log && break; sleep 0.1; done
cat /root/notify.log
sleep 1
$CURL https://$H/api/v1/health; echo
inkstone-admin --config /etc/inkstone/inkstone.conf check-db && echo "check-db with the new password: ok"

## 13. Logs: logrotate's run (its postrotate's systemctl fails here: SIGUSR1 by hand)
logrotate -f /etc/logrotate.d/inkstone
kill -USR1 "$(cat /root/server.pid)"
sleep 0.5
$CURL https://$H/api/v1/health >/dev/null
ls -l /var/log/inkstone/
grep -c . /var/log/inkstone/inkstone.log

kill -QUIT "$(cat /root/server.pid)"; wait "$(cat /root/server.pid)" && echo "final stop: status 0"
/etc/init.d/nginx stop; /etc/init.d/mariadb stop
echo GUIDE-DONE
