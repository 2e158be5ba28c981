# disinfox-sync — build, test, install. Install paths follow the usual layout under PREFIX,
# with DESTDIR for packagers:  make install PREFIX=/usr DESTDIR=/tmp/pkg

PREFIX ?= /usr/local
prefix ?= $(PREFIX)
bindir ?= $(prefix)/bin
datadir ?= $(prefix)/share
mandir ?= $(datadir)/man
systemdunitdir ?= $(prefix)/lib/systemd/system
CARGO ?= cargo
BIN := target/release/disinfox-sync
K8S_VERSIONS ?= 1.31.0 1.34.0 1.37.0

.PHONY: build test test-async lint fmt generated check-generated k8s-lint demo bench install uninstall dist ci clean

build:
	$(CARGO) build --release --locked

## The one test command (README, CI): unit tests, the integration-test binary, examples;
## then the tests about data reaching OpenCTI again on the asynchronous platform model.
test:
	$(CARGO) test --locked --all-targets
	$(MAKE) --no-print-directory test-async

## Every test about data reaching OpenCTI, on the stand-in's asynchronous model (queues,
## concurrent workers, works, drops in a ledger) instead of the instant one: what a real
## OpenCTI imports only after `stixBundlePush` answered. async_import:: runs on it always;
## standins:: are the stand-ins' self-tests.
ASYNC_MODULES ?= push:: sync:: ledger:: fixtures:: scale:: flags:: check:: hostile:: metrics:: pycti:: readme::
test-async:
	STANDIN_OPENCTI_IMPORT=async $(CARGO) test --locked --test integration -- $(ASYNC_MODULES)

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

## Man pages and completions are generated from the clap definitions and committed.
generated:
	$(CARGO) run --locked --quiet -- generate --out .

check-generated:
	$(CARGO) test --locked --test integration generated::

## Offline checks of k8s/, no cluster needed. Tools from PyPI (kubernetes-validate==1.37.0,
## yamllint), found on PATH or in K8S_TOOLS_BIN (make k8s-lint K8S_TOOLS_BIN=/tmp/k8sv/bin/).
## yamllint -s (warnings fail) on k8s/ and .yamllint; then every API object manifest under k8s/
## (all *.yaml but kustomization.yaml) with kubernetes-validate --strict for each K8S_VERSIONS,
## failing on its "Couldn't find schema" warning too (an unknown kind or apiVersion only warns);
## then, where kubectl is installed, the kustomize output of k8s/ and of each overlay likewise
## (rendered from a copy, with placeholders for the git-ignored credential files it lacks).
k8s-lint:
	@bin="$(K8S_TOOLS_BIN)"; bin="$${bin:+$${bin%/}/}"; \
	validate() { \
	  for v in $(K8S_VERSIONS); do \
	    out=$$("$${bin}kubernetes-validate" --strict -k "$$v" "$$@" 2>&1); rc=$$?; \
	    echo "$$out"; \
	    if [ $$rc -ne 0 ]; then echo "k8s-lint: FAILED for Kubernetes $$v"; return 1; fi; \
	    if echo "$$out" | grep -qi "couldn't find schema"; then \
	      echo "k8s-lint: FAILED for Kubernetes $$v: unknown kind or apiVersion"; return 1; fi; \
	    echo "k8s-lint: Kubernetes $$v passed ($$# file(s))"; \
	  done; \
	}; \
	for tool in yamllint kubernetes-validate; do \
	  command -v "$${bin}$$tool" >/dev/null || { echo "k8s-lint: $${bin}$$tool not found;" \
	    "pip install kubernetes-validate==1.37.0 yamllint, or pass K8S_TOOLS_BIN=VENV/bin/"; exit 1; }; \
	done; \
	echo "yamllint -s k8s .yamllint"; "$${bin}yamllint" -s k8s .yamllint || exit 1; \
	files=$$(find k8s -name '*.yaml' ! -name kustomization.yaml | sort); \
	[ -n "$$files" ] || { echo "k8s-lint: no manifests under k8s/"; exit 1; }; \
	validate $$files || exit 1; \
	if command -v kubectl >/dev/null 2>&1; then \
	  tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  cp -R k8s "$$tmp/k8s"; \
	  for s in $$(find "$$tmp/k8s" -type d -name secrets); do \
	    for f in opencti-token disinfox-api-key; do [ -e "$$s/$$f" ] || echo placeholder >"$$s/$$f"; done; \
	  done; \
	  for dir in k8s $$(find k8s/overlays -name kustomization.yaml -exec dirname {} \; 2>/dev/null | sort); do \
	    rendered="$$(echo "$$dir" | tr / _).yaml"; \
	    echo "kubectl kustomize $$dir > $$rendered"; \
	    kubectl kustomize "$$tmp/$$dir" > "$$tmp/$$rendered" || { echo "k8s-lint: kustomize $$dir failed"; exit 1; }; \
	    (cd "$$tmp" && validate "$$rendered") || exit 1; \
	  done; \
	else \
	  echo "k8s-lint: kubectl not installed: kustomize output not rendered (each file was checked)"; \
	fi

demo:
	./tests/demo.sh

bench:
	./tests/bench/run.sh

install:
	@test -x $(BIN) || { echo "$(BIN) is missing: run 'make build' first (as your user, not root)"; exit 1; }
	install -Dm755 $(BIN) $(DESTDIR)$(bindir)/disinfox-sync
	for page in man/*.1; do install -Dm644 $$page $(DESTDIR)$(mandir)/man1/$$(basename $$page); done
	install -Dm644 completions/disinfox-sync.bash $(DESTDIR)$(datadir)/bash-completion/completions/disinfox-sync
	install -Dm644 completions/_disinfox-sync $(DESTDIR)$(datadir)/zsh/site-functions/_disinfox-sync
	install -Dm644 completions/disinfox-sync.fish $(DESTDIR)$(datadir)/fish/vendor_completions.d/disinfox-sync.fish
	@# The units name the binary where this install puts it.
	mkdir -p $(DESTDIR)$(systemdunitdir)
	sed 's#/usr/local/bin/disinfox-sync#$(bindir)/disinfox-sync#' contrib/systemd/disinfox-sync.service > $(DESTDIR)$(systemdunitdir)/disinfox-sync.service
	chmod 644 $(DESTDIR)$(systemdunitdir)/disinfox-sync.service
	install -Dm644 contrib/systemd/disinfox-sync.timer $(DESTDIR)$(systemdunitdir)/disinfox-sync.timer
	sed 's#/usr/local/bin/disinfox-sync#$(bindir)/disinfox-sync#' contrib/systemd/disinfox-sync-verify.service > $(DESTDIR)$(systemdunitdir)/disinfox-sync-verify.service
	chmod 644 $(DESTDIR)$(systemdunitdir)/disinfox-sync-verify.service
	install -Dm644 contrib/systemd/disinfox-sync-verify.timer $(DESTDIR)$(systemdunitdir)/disinfox-sync-verify.timer

uninstall:
	rm -f $(DESTDIR)$(bindir)/disinfox-sync $(DESTDIR)$(mandir)/man1/disinfox-sync*.1
	rm -f $(DESTDIR)$(datadir)/bash-completion/completions/disinfox-sync
	rm -f $(DESTDIR)$(datadir)/zsh/site-functions/_disinfox-sync
	rm -f $(DESTDIR)$(datadir)/fish/vendor_completions.d/disinfox-sync.fish
	rm -f $(DESTDIR)$(systemdunitdir)/disinfox-sync.service $(DESTDIR)$(systemdunitdir)/disinfox-sync.timer
	rm -f $(DESTDIR)$(systemdunitdir)/disinfox-sync-verify.service $(DESTDIR)$(systemdunitdir)/disinfox-sync-verify.timer

## A release archive, dist/disinfox-sync-VERSION-TARGET.tar.gz, and dist/SHA256SUMS for every
## archive in dist/. Built from a clean tree: the files committed at HEAD (git archive), so
## nothing uncommitted or git-ignored (credentials, target/) reaches it. The binary names that
## commit (DISINFOX_SYNC_COMMIT) and the commit's date (SOURCE_DATE_EPOCH, also the archive's
## file times), so the same commit gives the same archive. TARGET is the host's triple, or
## CARGO_BUILD_TARGET for a cross build; DIST_TARGET_DIR keeps cargo's build cache between runs.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
TARGET ?= $(or $(CARGO_BUILD_TARGET),$(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p'))
DIST_DIR ?= dist
DIST_TARGET_DIR ?= $(CURDIR)/target/dist
DIST_NAME = disinfox-sync-$(VERSION)-$(TARGET)

dist:
	@set -e; \
	[ -n "$(TARGET)" ] || { echo "dist: no target triple (rustc -vV failed); pass TARGET=..."; exit 1; }; \
	commit=$$(git rev-parse --short=12 HEAD); epoch=$$(git log -1 --format=%ct HEAD); \
	git diff --quiet HEAD -- || echo "dist: uncommitted changes are not in the archive (built from $$commit)"; \
	tree=$$(mktemp -d); trap 'rm -rf "$$tree"' EXIT; \
	git archive --format=tar HEAD | tar -x -C "$$tree"; \
	echo "dist: building $$commit in a clean tree"; \
	(cd "$$tree" && DISINFOX_SYNC_COMMIT=$$commit SOURCE_DATE_EPOCH=$$epoch \
	  CARGO_TARGET_DIR="$(DIST_TARGET_DIR)" $(CARGO) build --release --locked --bin disinfox-sync); \
	bin="$(DIST_TARGET_DIR)/$(if $(CARGO_BUILD_TARGET),$(CARGO_BUILD_TARGET)/)release/disinfox-sync"; \
	stage="$$tree/stage/$(DIST_NAME)"; mkdir -p "$$stage"; \
	install -m 755 "$$bin" "$$stage/disinfox-sync"; \
	cp -R "$$tree/man" "$$tree/completions" "$$tree/k8s" "$$tree/contrib" "$$stage/"; \
	cp "$$tree/LICENSE" "$$tree/README.md" "$$tree/CHANGELOG.md" "$$stage/"; \
	mkdir -p "$(DIST_DIR)"; out=$$(cd "$(DIST_DIR)" && pwd); \
	(cd "$$tree/stage" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$$epoch \
	  -cf - "$(DIST_NAME)" | gzip -n -9 > "$$out/$(DIST_NAME).tar.gz"); \
	(cd "$$out" && sha256sum disinfox-sync-*.tar.gz > SHA256SUMS); \
	echo "$(DIST_DIR)/$(DIST_NAME).tar.gz"; echo "$(DIST_DIR)/SHA256SUMS"

ci: lint test

clean:
	$(CARGO) clean
	rm -rf dist
