
use builtin;
use str;

set edit:completion:arg-completer[disinfox-sync] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'disinfox-sync'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'disinfox-sync'= {
            cand --config 'Configuration file (the Python connector''s config.yml layout)'
            cand --log-level 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)'
            cand --log-format 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]'
            cand --disinfox-url 'DISINFOX base URL or full /incidents endpoint'
            cand --opencti-url 'OpenCTI base URL (without /graphql)'
            cand --timeout 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]'
            cand --connect-timeout 'Time allowed to establish a connection [default: 10s]'
            cand --retries 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]'
            cand --retry-delay 'First backoff delay between retries; doubles each time, with jitter [default: 1s]'
            cand --ca-cert 'PEM file with extra CA certificates to trust (system roots are kept)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand fetch 'Print a DISINFOX bundle of everything newer than WHEN (for pipelines)'
            cand push 'Import a bundle file (or stdin) into OpenCTI'
            cand sync 'Fetch everything newer than the stored cursor, import it, then advance the cursor'
            cand verify 'List what DISINFOX serves that OpenCTI does not hold (exit 1 if anything); --repair pushes only those objects again. Never moves the cursor'
            cand reset-state 'Forget the stored cursor (next sync imports everything), or set it with --to'
            cand check 'Check configuration, DISINFOX, OpenCTI, capabilities and state; one line per check'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'disinfox-sync;fetch'= {
            cand --since 'Lower bound, exclusive: RFC 3339 (any offset), YYYY-MM-DD, a duration ago (36h, 7days), or all'
            cand -o 'Write the bundle to FILE (atomically) instead of stdout; - means stdout'
            cand --output 'Write the bundle to FILE (atomically) instead of stdout; - means stdout'
            cand --max-bundle-size 'Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]'
            cand --config 'Configuration file (the Python connector''s config.yml layout)'
            cand --log-level 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)'
            cand --log-format 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]'
            cand --disinfox-url 'DISINFOX base URL or full /incidents endpoint'
            cand --opencti-url 'OpenCTI base URL (without /graphql)'
            cand --timeout 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]'
            cand --connect-timeout 'Time allowed to establish a connection [default: 10s]'
            cand --retries 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]'
            cand --retry-delay 'First backoff delay between retries; doubles each time, with jitter [default: 1s]'
            cand --ca-cert 'PEM file with extra CA certificates to trust (system roots are kept)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'disinfox-sync;push'= {
            cand -f 'Bundle file to import; - or nothing reads stdin'
            cand --file 'Bundle file to import; - or nothing reads stdin'
            cand --max-bundle-size 'Refuse a bundle larger than this many bytes (suffixes K, M, G) [default: 1G]'
            cand --chunk-size 'Largest request sent to OpenCTI per chunk, in bytes after JSON escaping (K, M, G) [default: 10M]'
            cand --chunk-objects 'Most objects per chunk [default: 25000]'
            cand --wait 'After pushing, follow the run''s work in OpenCTI until it is imported (at most DURATION, default 10m); report imported and failed objects. Needs OpenCTI 6.5.7+ and MODULES'
            cand --config 'Configuration file (the Python connector''s config.yml layout)'
            cand --log-level 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)'
            cand --log-format 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]'
            cand --disinfox-url 'DISINFOX base URL or full /incidents endpoint'
            cand --opencti-url 'OpenCTI base URL (without /graphql)'
            cand --timeout 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]'
            cand --connect-timeout 'Time allowed to establish a connection [default: 10s]'
            cand --retries 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]'
            cand --retry-delay 'First backoff delay between retries; doubles each time, with jitter [default: 1s]'
            cand --ca-cert 'PEM file with extra CA certificates to trust (system roots are kept)'
            cand --dry-run 'Validate, complete and chunk the bundle and report the chunks; contact nobody'
            cand --json 'Print the run summary as one JSON object on stdout'
            cand --allow-large-chunks 'Allow --chunk-size above 12M, for brokers whose max_message_size was raised above RabbitMQ''s default 16 MiB (a chunk travels base64-encoded, 4/3 larger)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'disinfox-sync;sync'= {
            cand --state-file 'Keep the cursor in a local file instead of OpenCTI''s connector state; without PATH, the user state directory (e.g. ~/.local/state/disinfox-sync/state.json)'
            cand --settle 'Keep the cursor this far behind DISINFOX''s clock, to catch objects committed late [default: 60s]'
            cand --queue-threshold 'Skip the run (exit 0) while the connector''s queue in OpenCTI holds more than MB megabytes [default: 500]'
            cand --max-bundle-size 'Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]'
            cand --disk-limit 'Write at most this many bytes under TMPDIR to stage the answer (suffixes K, M, G): a run that needs more stops with 74 before it pushes anything; set it to your emptyDir''s sizeLimit [default: TMPDIR''s free space]'
            cand --chunk-size 'Largest request sent to OpenCTI per chunk, in bytes after JSON escaping (K, M, G) [default: 10M]'
            cand --chunk-objects 'Most objects per chunk [default: 25000]'
            cand --metrics-file 'Write this run''s metrics to PATH, atomically, for node_exporter''s textfile collector'
            cand --pushgateway 'Push this run''s metrics to a Prometheus Pushgateway (job disinfox-sync, grouped by connector id); a failed push only warns'
            cand --wait 'After pushing, follow the run''s work in OpenCTI until it is imported (at most DURATION, default 10m); report imported and failed objects. Needs OpenCTI 6.5.7+ and MODULES'
            cand --config 'Configuration file (the Python connector''s config.yml layout)'
            cand --log-level 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)'
            cand --log-format 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]'
            cand --disinfox-url 'DISINFOX base URL or full /incidents endpoint'
            cand --opencti-url 'OpenCTI base URL (without /graphql)'
            cand --timeout 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]'
            cand --connect-timeout 'Time allowed to establish a connection [default: 10s]'
            cand --retries 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]'
            cand --retry-delay 'First backoff delay between retries; doubles each time, with jitter [default: 1s]'
            cand --ca-cert 'PEM file with extra CA certificates to trust (system roots are kept)'
            cand --dry-run 'Fetch and prepare, report what would be pushed and the next cursor; change nothing'
            cand --json 'Print the run summary as one JSON object on stdout'
            cand --allow-large-chunks 'Allow --chunk-size above 12M, for brokers whose max_message_size was raised above RabbitMQ''s default 16 MiB (a chunk travels base64-encoded, 4/3 larger)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'disinfox-sync;verify'= {
            cand --since 'Check only what DISINFOX serves newer than WHEN (same forms as fetch --since)'
            cand --max-bundle-size 'Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]'
            cand --chunk-size 'Largest request sent to OpenCTI per chunk, in bytes after JSON escaping (K, M, G) [default: 10M]'
            cand --chunk-objects 'Most objects per chunk [default: 25000]'
            cand --metrics-file 'Write this run''s metrics to PATH, atomically, for node_exporter''s textfile collector'
            cand --pushgateway 'Push this run''s metrics to a Prometheus Pushgateway (job disinfox-sync, grouped by connector id); a failed push only warns'
            cand --wait 'After pushing, follow the run''s work in OpenCTI until it is imported (at most DURATION, default 10m); report imported and failed objects. Needs OpenCTI 6.5.7+ and MODULES'
            cand --config 'Configuration file (the Python connector''s config.yml layout)'
            cand --log-level 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)'
            cand --log-format 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]'
            cand --disinfox-url 'DISINFOX base URL or full /incidents endpoint'
            cand --opencti-url 'OpenCTI base URL (without /graphql)'
            cand --timeout 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]'
            cand --connect-timeout 'Time allowed to establish a connection [default: 10s]'
            cand --retries 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]'
            cand --retry-delay 'First backoff delay between retries; doubles each time, with jitter [default: 1s]'
            cand --ca-cert 'PEM file with extra CA certificates to trust (system roots are kept)'
            cand --repair 'Push the missing objects again, with the objects they reference (never a full re-import), then look them up again'
            cand --json 'Print each missing object as one JSON document on stdout instead of `ID TYPE`'
            cand --allow-large-chunks 'Allow --chunk-size above 12M, for brokers whose max_message_size was raised above RabbitMQ''s default 16 MiB (a chunk travels base64-encoded, 4/3 larger)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'disinfox-sync;reset-state'= {
            cand --to 'Set the cursor to WHEN instead of forgetting it (same forms as fetch --since)'
            cand --state-file 'Keep the cursor in a local file instead of OpenCTI''s connector state; without PATH, the user state directory (e.g. ~/.local/state/disinfox-sync/state.json)'
            cand --config 'Configuration file (the Python connector''s config.yml layout)'
            cand --log-level 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)'
            cand --log-format 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]'
            cand --disinfox-url 'DISINFOX base URL or full /incidents endpoint'
            cand --opencti-url 'OpenCTI base URL (without /graphql)'
            cand --timeout 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]'
            cand --connect-timeout 'Time allowed to establish a connection [default: 10s]'
            cand --retries 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]'
            cand --retry-delay 'First backoff delay between retries; doubles each time, with jitter [default: 1s]'
            cand --ca-cert 'PEM file with extra CA certificates to trust (system roots are kept)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'disinfox-sync;check'= {
            cand --state-file 'Check this state file instead of the state in OpenCTI (as sync --state-file)'
            cand --config 'Configuration file (the Python connector''s config.yml layout)'
            cand --log-level 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)'
            cand --log-format 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]'
            cand --disinfox-url 'DISINFOX base URL or full /incidents endpoint'
            cand --opencti-url 'OpenCTI base URL (without /graphql)'
            cand --timeout 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]'
            cand --connect-timeout 'Time allowed to establish a connection [default: 10s]'
            cand --retries 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]'
            cand --retry-delay 'First backoff delay between retries; doubles each time, with jitter [default: 1s]'
            cand --ca-cert 'PEM file with extra CA certificates to trust (system roots are kept)'
            cand --json 'Print the results as one JSON object on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'disinfox-sync;help'= {
            cand fetch 'Print a DISINFOX bundle of everything newer than WHEN (for pipelines)'
            cand push 'Import a bundle file (or stdin) into OpenCTI'
            cand sync 'Fetch everything newer than the stored cursor, import it, then advance the cursor'
            cand verify 'List what DISINFOX serves that OpenCTI does not hold (exit 1 if anything); --repair pushes only those objects again. Never moves the cursor'
            cand reset-state 'Forget the stored cursor (next sync imports everything), or set it with --to'
            cand check 'Check configuration, DISINFOX, OpenCTI, capabilities and state; one line per check'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'disinfox-sync;help;fetch'= {
        }
        &'disinfox-sync;help;push'= {
        }
        &'disinfox-sync;help;sync'= {
        }
        &'disinfox-sync;help;verify'= {
        }
        &'disinfox-sync;help;reset-state'= {
        }
        &'disinfox-sync;help;check'= {
        }
        &'disinfox-sync;help;help'= {
        }
    ]
    $completions[$command]
}
