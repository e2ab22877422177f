# inkstone — the two commands: `make run` and `make test` (plus `make bench`, and `make deb` /
# `make install` for production: docs/deploy.md).
# Each installs the Debian packages it needs first (apt-get; sudo when not root).

PACKAGES := build-essential cmake pkg-config \
	libfcgi-dev libcgicc-dev libcurl4-openssl-dev libjsoncpp-dev libmysqlcppconn-dev \
	libssl-dev libsodium-dev libgtest-dev libgmock-dev libbenchmark-dev libmariadb-dev \
	mariadb-server mariadb-client nginx curl wrk clang-format git \
	libsystemd-dev dpkg-dev

JOBS ?= $(shell nproc)
PORT ?= 8080
SIM_PORT ?= 8090
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build build-debug run test check bench fuzz clean format web web-deps web-test web-e2e \
	deb install

all: build

deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing \
	  || { $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; }; \
	fi

build: deps
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build/release -j $(JOBS)

build-debug: deps
	cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build/debug -j $(JOBS)

# The web app (web/, README "Web app"): Node.js, npm and Chromium from Debian when missing
# (a machine that already has node and npm, e.g. from NodeSource, keeps them), then `npm ci`
# from the lockfile and the production build, both only when their inputs changed.
WEB_SOURCES := $(shell find web/src web/public web/index.html web/vite.config.ts web/tsconfig.json -type f 2>/dev/null)
web-deps:
	@missing=""; command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -qi 'zenhei\|noto.*cjk' || missing="$$missing fonts-wqy-zenhei"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing \
	  || { $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; }; \
	fi

web/node_modules/.package-lock.json: web/package.json web/package-lock.json | web-deps
	cd web && npm ci --no-audit --no-fund
	@touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

web: web/dist/index.html

# Vitest: the API client, the SSE reader, stores, formatting.
web-test: web/node_modules/.package-lock.json
	cd web && npx vitest run

# Only the Chromium journeys (needs the Debug build for the stack).
web-e2e: build-debug web
	cd build/debug && ctest --output-on-failure -L web

# Foreground: MariaDB under var/, migrations, simulator (without QWEN_API_KEY), pool, nginx.
# Ctrl-C / SIGTERM stops everything it started.
run: build web
	@echo "inkstone web app: http://127.0.0.1:$(PORT)/  (starting...)"
	exec build/release/tests/inkstone-devstack --source-dir . --build-dir build/release \
	  --var-dir var --port $(PORT) --sim-port $(SIM_PORT)

# Every unit, DB and integration test, on the ASan+UBSan Debug build, then the web app's
# Vitest suite; the Chromium journeys are the ctest `web_e2e_test` (label web). The cluster
# suite (label cluster, README "Scaling out") also needs Galera and rsync: TEST_PACKAGES.
TEST_PACKAGES := galera-4 rsync
test: check build-debug web
	@$(MAKE) --no-print-directory deps PACKAGES="$(TEST_PACKAGES)"
	cd build/debug && ctest --output-on-failure --timeout 600 -j 2
	cd web && npx vitest run

# The benchmarks (README "Performance"): Release build of what they need only, then the
# micro-benchmarks and the load scenarios against a private stack, one table on stdout and as
# JSON in $(BENCH_JSON). BENCH_ARGS passes options (`--quick`, `--keepalive 8`, ...).
BENCH_JSON ?= build/bench.json
BENCH_ARGS ?=
# The LAMP peer of the balance comparison (tests/bench/php/): bench-only, not in PACKAGES.
BENCH_PACKAGES := php8.2-fpm php8.2-mysql
bench: deps
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing \
	  || { $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; }; \
	fi
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build/release -j $(JOBS) --target inkstone-bench
	build/release/tests/inkstone-bench --json $(BENCH_JSON) $(BENCH_ARGS)

# Production (docs/deploy.md). `make deb`: the Debian package of the Release build, web app
# included (CPack's DEB generator; dependencies from dpkg-shlibdeps), in build/deb/.
# `make install`: the same layout under PREFIX (default /usr/local; the config in PREFIX/etc,
# /etc for PREFIX=/usr), staged under DESTDIR when set. Neither builds the tests.
PREFIX ?= /usr/local
DESTDIR ?=
DEB_DIR := build/deb
deb: deps web
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build/release -j $(JOBS) --target inkstone inkstone-admin
	rm -f $(DEB_DIR)/*.deb
	cd build/release && cpack -G DEB -B $(CURDIR)/$(DEB_DIR)
	@ls -l $(DEB_DIR)/*.deb

install: deps web
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build/release -j $(JOBS) --target inkstone inkstone-admin
	DESTDIR=$(DESTDIR) cmake --install build/release --prefix $(PREFIX) --strip

# libFuzzer targets (request parsing, JSON bodies, ...), FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz: deps
	@command -v clang++ >/dev/null && [ -n "$$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] \
	  || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang libclang-rt-dev
	CC=clang CXX=clang++ cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DINKSTONE_FUZZ=ON \
	  -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
	cmake --build build/fuzz -j $(JOBS) --target $$(cd tests/fuzz && ls *_fuzz.cpp | sed 's/\.cpp$$//')
	@for f in tests/fuzz/*_fuzz.cpp; do n=$$(basename $$f .cpp); echo "== $$n"; \
	  build/fuzz/tests/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 | tail -3 || exit 1; done

clean:
	rm -rf build

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h' '*.c')

# Fails on clang-format drift (`make format` fixes it); `make test` runs it first.
check: deps
	@files=$$(git ls-files '*.cpp' '*.h' '*.c'); \
	clang-format --dry-run -Werror $$files || { echo "clang-format drift: run make format" >&2; exit 1; }
