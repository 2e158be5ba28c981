# disinfox-sync — build, test, install. Install paths follow the usual layout under PREFIX,
# with DESTDIR for packagers:  make install PREFIX=/usr DESTDIR=/tmp/pkg

PREFIX ?= /usr/local
prefix ?= $(PREFIX)
bindir ?= $(prefix)/bin
datadir ?= $(prefix)/share
mandir ?= $(datadir)/man
CARGO ?= cargo
BIN := target/release/disinfox-sync
K8S_VERSIONS ?= 1.31.0 1.34.0 1.37.0

.PHONY: build test lint fmt generated check-generated k8s-lint demo bench install uninstall ci clean

build:
	$(CARGO) build --release --locked

## The one test command (README, CI): unit tests, the integration binary, doc tests.
test:
	$(CARGO) test --locked --all-targets

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

k8s-lint:
	yamllint -s k8s
	for v in $(K8S_VERSIONS); do \
	  out=$$(kubernetes-validate --strict -k $$v $$(ls k8s/*.yaml | grep -v kustomization) 2>&1) || { echo "$$out"; exit 1; }; \
	  echo "$$out"; \
	  if echo "$$out" | grep -qi "couldn't find schema"; then echo "unknown kind for $$v"; exit 1; fi; \
	done

demo:
	./tests/demo.sh

bench:
	./tests/bench/run.sh

install:
	install -Dm755 $(BIN) $(DESTDIR)$(bindir)/disinfox-sync
	for page in man/*.1; do install -Dm644 $$page $(DESTDIR)$(mandir)/man1/$$(basename $$page); done
	install -Dm644 completions/disinfox-sync.bash $(DESTDIR)$(datadir)/bash-completion/completions/disinfox-sync
	install -Dm644 completions/_disinfox-sync $(DESTDIR)$(datadir)/zsh/site-functions/_disinfox-sync
	install -Dm644 completions/disinfox-sync.fish $(DESTDIR)$(datadir)/fish/vendor_completions.d/disinfox-sync.fish

uninstall:
	rm -f $(DESTDIR)$(bindir)/disinfox-sync $(DESTDIR)$(mandir)/man1/disinfox-sync*.1
	rm -f $(DESTDIR)$(datadir)/bash-completion/completions/disinfox-sync
	rm -f $(DESTDIR)$(datadir)/zsh/site-functions/_disinfox-sync
	rm -f $(DESTDIR)$(datadir)/fish/vendor_completions.d/disinfox-sync.fish

ci: lint test

clean:
	$(CARGO) clean
