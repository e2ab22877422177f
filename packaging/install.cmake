# Install-time part of packaging/CMakeLists.txt: renders the files that name install paths for
# the prefix being installed to (CMAKE_INSTALL_PREFIX here is `cmake --install --prefix`, or
# /usr under cpack), then installs them with file(INSTALL), which honours DESTDIR.
#
# Set by the install(CODE) before this script: INKSTONE_SOURCE_DIR, INKSTONE_RENDER_DIR.
# Every substitution must find its text: a template that changed under it stops the install,
# naming what is missing, rather than ship a file that still says `var/run/inkstone.sock`.

set(prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/+$" "" prefix "${prefix}")
if(prefix STREQUAL "/usr")
  set(sysconfdir "/etc")
else()
  set(sysconfdir "${prefix}/etc")
endif()
set(bindir "${prefix}/bin")
set(datadir "${prefix}/share/inkstone")
set(libexecdir "${prefix}/lib/inkstone")
set(unitdir "${prefix}/lib/systemd/system")
# Fixed: made by systemd for the unit (RuntimeDirectory=, LogsDirectory=).
set(socket "/run/inkstone/inkstone.sock")
set(logdir "/var/log/inkstone")

string(MAKE_C_IDENTIFIER "${prefix}" prefix_id)
set(out "${INKSTONE_RENDER_DIR}/${prefix_id}")
file(MAKE_DIRECTORY "${out}")

# inkstone_replace(VAR FILE FROM TO): replace FROM (which must occur) in VAR.
function(inkstone_replace var file from to)
  string(FIND "${${var}}" "${from}" at)
  if(at LESS 0)
    message(FATAL_ERROR "packaging: ${file} no longer contains `${from}`: update packaging/install.cmake")
  endif()
  string(REPLACE "${from}" "${to}" text "${${var}}")
  set(${var} "${text}" PARENT_SCOPE)
endfunction()

function(inkstone_check_rendered file text)
  string(REGEX MATCH "@[A-Z][A-Z0-9_]*@" left "${text}")
  if(left)
    message(FATAL_ERROR "packaging: ${file} still has the placeholder ${left}")
  endif()
endfunction()

# --- systemd units: @BINDIR@ @SYSCONFDIR@ @LIBEXECDIR@ @DOCDIR@ ---
foreach(unit inkstone.service inkstone-backup.service inkstone-backup.timer)
  file(READ "${INKSTONE_SOURCE_DIR}/packaging/${unit}" text)
  string(REPLACE "@BINDIR@" "${bindir}" text "${text}")
  string(REPLACE "@SYSCONFDIR@" "${sysconfdir}" text "${text}")
  string(REPLACE "@LIBEXECDIR@" "${libexecdir}" text "${text}")
  string(REPLACE "@DOCDIR@" "${prefix}/share/doc/inkstone" text "${text}")
  inkstone_check_rendered("packaging/${unit}" "${text}")
  file(WRITE "${out}/${unit}" "${text}")
  file(INSTALL DESTINATION "${unitdir}" TYPE FILE FILES "${out}/${unit}")
endforeach()

# --- the backup script: @SYSCONFDIR@ ---
file(READ "${INKSTONE_SOURCE_DIR}/packaging/inkstone-backup" text)
string(REPLACE "@SYSCONFDIR@" "${sysconfdir}" text "${text}")
inkstone_check_rendered("packaging/inkstone-backup" "${text}")
file(WRITE "${out}/inkstone-backup" "${text}")
file(INSTALL DESTINATION "${libexecdir}" TYPE PROGRAM FILES "${out}/inkstone-backup")

# --- logrotate ---
file(READ "${INKSTONE_SOURCE_DIR}/packaging/inkstone.logrotate" text)
file(WRITE "${out}/inkstone" "${text}")
file(INSTALL DESTINATION "${sysconfdir}/logrotate.d" TYPE FILE FILES "${out}/inkstone")

# --- the config: inkstone.conf (the reference, every key commented out) for the packaged paths ---
set(conf_src "inkstone.conf")
file(READ "${INKSTONE_SOURCE_DIR}/inkstone.conf" text)
inkstone_replace(text ${conf_src} "# fcgi.listen = var/run/inkstone.sock"
                 "fcgi.listen = ${socket}")
inkstone_replace(text ${conf_src} "# log.file = \"\"" "log.file = ${logdir}/inkstone.log")
inkstone_replace(text ${conf_src} "# sql_dir = sql" "sql_dir = ${datadir}/sql")
inkstone_replace(text ${conf_src} "# payment.mode = \"\"" "payment.mode = live")
set(header "# ${sysconfdir}/inkstone/inkstone.conf: the inkstone package's configuration.
#
# The keys below that are not commented out are the package's choices: the socket in
# ${socket} (made by systemd, RuntimeDirectory=), the log in ${logdir}
# (LogsDirectory=, rotated by ${sysconfdir}/logrotate.d/inkstone), the migrations in
# ${datadir}/sql, and live payments (MariaDB: the defaults, 127.0.0.1:3306,
# user and database `inkstone`). The server
# refuses to start until the live payment keys and public_base_url are set: see
# ${prefix}/share/doc/inkstone/deploy.md, step by step.
#
# Secrets: put DB_PASSWORD, QWEN_API_KEY, WECHAT_APIV3_KEY (environment names, see below) in
# ${sysconfdir}/inkstone/inkstone.env (root:inkstone 0640), which inkstone.service reads as its
# EnvironmentFile; this file is root:inkstone 0640 too. Key files (*.pem): root:inkstone 0640.
#
# `inkstone --config ${sysconfdir}/inkstone/inkstone.conf --check-config` checks it; after an
# edit `systemctl reload inkstone` applies it without dropping a request.
#
")
file(WRITE "${out}/inkstone.conf" "${header}${text}")
file(INSTALL DESTINATION "${sysconfdir}/inkstone" TYPE FILE FILES "${out}/inkstone.conf"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)

# --- nginx snippets for the packaged socket and web root ---
set(nginx_values
    "POOL_ADDRESS=unix:${socket}" "FASTCGI_KEEP_CONN=on"
    "STATUS_PATH=/inkstone-status" "METRICS_PATH=/metrics" "WEB_ROOT=${datadir}/web"
    "AUTH_RATE=10r/s" "AUTH_BURST=20")
foreach(snippet inkstone-upstream inkstone-locations)
  file(READ "${INKSTONE_SOURCE_DIR}/nginx/${snippet}.conf.in" text)
  # Upstream keepalive as the README's nginx section sizes it for the shipped defaults (one
  # pool worker of 32 threads per core, nginx's one worker per core): 16 on any machine.
  # Outside the list above, whose `;` would split the value.
  string(REPLACE "@UPSTREAM_KEEPALIVE@" "keepalive 16;" text "${text}")
  foreach(pair ${nginx_values})
    string(FIND "${pair}" "=" eq)
    string(SUBSTRING "${pair}" 0 ${eq} name)
    math(EXPR from "${eq} + 1")
    string(SUBSTRING "${pair}" ${from} -1 value)
    string(REPLACE "@${name}@" "${value}" text "${text}")
  endforeach()
  inkstone_check_rendered("nginx/${snippet}.conf.in" "${text}")
  set(note "# Rendered by the inkstone package from nginx/${snippet}.conf.in for the packaged paths:
# socket unix:${socket}, web app ${datadir}/web, status page /inkstone-status, metrics
# /metrics, login rate 10r/s with a burst of 20, no upstream keepalive. The placeholder notes below show the
# values put in. Updated with the package: copy it elsewhere to change it.
#
")
  file(WRITE "${out}/${snippet}.conf" "${note}${text}")
  file(INSTALL DESTINATION "${datadir}/nginx" TYPE FILE FILES "${out}/${snippet}.conf")
endforeach()
