# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_disinfox_sync_global_optspecs
    string join \n config= log-level= log-format= disinfox-url= opencti-url= timeout= connect-timeout= retries= retry-delay= ca-cert= h/help V/version
end

function __fish_disinfox_sync_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_disinfox_sync_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_disinfox_sync_using_subcommand
    set -l cmd (__fish_disinfox_sync_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -l config -d 'Configuration file (the Python connector\'s config.yml layout)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -l log-level -d 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -l log-format -d 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]' -r -f -a "text\t''
json\t''"
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -l disinfox-url -d 'DISINFOX base URL or full /incidents endpoint' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -l opencti-url -d 'OpenCTI base URL (without /graphql)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -l timeout -d 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -l connect-timeout -d 'Time allowed to establish a connection [default: 10s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -l retries -d 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -l retry-delay -d 'First backoff delay between retries; doubles each time, with jitter [default: 1s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -l ca-cert -d 'PEM file with extra CA certificates to trust (system roots are kept)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -s V -l version -d 'Print version'
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -f -a "fetch" -d 'Print a DISINFOX bundle of everything newer than WHEN (for pipelines)'
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -f -a "push" -d 'Import a bundle file (or stdin) into OpenCTI'
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -f -a "sync" -d 'Fetch everything newer than the stored cursor, import it, then advance the cursor'
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -f -a "verify" -d 'List what DISINFOX serves that OpenCTI does not hold (exit 1 if anything); --repair pushes only those objects again. Never moves the cursor'
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -f -a "reset-state" -d 'Forget the stored cursor (next sync imports everything), or set it with --to'
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -f -a "check" -d 'Check configuration, DISINFOX, OpenCTI, capabilities and state; one line per check'
complete -c disinfox-sync -n "__fish_disinfox_sync_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l since -d 'Lower bound, exclusive: RFC 3339 (any offset), YYYY-MM-DD, a duration ago (36h, 7days), or all' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -s o -l output -d 'Write the bundle to FILE (atomically) instead of stdout; - means stdout' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l max-bundle-size -d 'Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l config -d 'Configuration file (the Python connector\'s config.yml layout)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l log-level -d 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l log-format -d 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]' -r -f -a "text\t''
json\t''"
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l disinfox-url -d 'DISINFOX base URL or full /incidents endpoint' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l opencti-url -d 'OpenCTI base URL (without /graphql)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l timeout -d 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l connect-timeout -d 'Time allowed to establish a connection [default: 10s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l retries -d 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l retry-delay -d 'First backoff delay between retries; doubles each time, with jitter [default: 1s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -l ca-cert -d 'PEM file with extra CA certificates to trust (system roots are kept)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand fetch" -s V -l version -d 'Print version'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -s f -l file -d 'Bundle file to import; - or nothing reads stdin' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l max-bundle-size -d 'Refuse a bundle larger than this many bytes (suffixes K, M, G) [default: 1G]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l chunk-size -d 'Largest request sent to OpenCTI per chunk, in bytes after JSON escaping (K, M, G) [default: 10M]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l chunk-objects -d 'Most objects per chunk [default: 25000]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l wait -d 'After pushing, follow the run\'s work in OpenCTI until it is imported (at most DURATION, default 10m); report imported and failed objects. Needs OpenCTI 6.5.7+ and MODULES' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l config -d 'Configuration file (the Python connector\'s config.yml layout)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l log-level -d 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l log-format -d 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]' -r -f -a "text\t''
json\t''"
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l disinfox-url -d 'DISINFOX base URL or full /incidents endpoint' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l opencti-url -d 'OpenCTI base URL (without /graphql)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l timeout -d 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l connect-timeout -d 'Time allowed to establish a connection [default: 10s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l retries -d 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l retry-delay -d 'First backoff delay between retries; doubles each time, with jitter [default: 1s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l ca-cert -d 'PEM file with extra CA certificates to trust (system roots are kept)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l dry-run -d 'Validate, complete and chunk the bundle and report the chunks; contact nobody'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l json -d 'Print the run summary as one JSON object on stdout'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -l allow-large-chunks -d 'Allow --chunk-size above 12M, for brokers whose max_message_size was raised above RabbitMQ\'s default 16 MiB (a chunk travels base64-encoded, 4/3 larger)'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand push" -s V -l version -d 'Print version'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l state-file -d 'Keep the cursor in a local file instead of OpenCTI\'s connector state; without PATH, the user state directory (e.g. ~/.local/state/disinfox-sync/state.json)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l settle -d 'Keep the cursor this far behind DISINFOX\'s clock, to catch objects committed late [default: 60s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l queue-threshold -d 'Skip the run (exit 0) while the connector\'s queue in OpenCTI holds more than MB megabytes [default: 500]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l max-bundle-size -d 'Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l disk-limit -d 'Write at most this many bytes under TMPDIR to stage the answer (suffixes K, M, G): a run that needs more stops with 74 before it pushes anything; set it to your emptyDir\'s sizeLimit [default: TMPDIR\'s free space]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l chunk-size -d 'Largest request sent to OpenCTI per chunk, in bytes after JSON escaping (K, M, G) [default: 10M]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l chunk-objects -d 'Most objects per chunk [default: 25000]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l metrics-file -d 'Write this run\'s metrics to PATH, atomically, for node_exporter\'s textfile collector' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l pushgateway -d 'Push this run\'s metrics to a Prometheus Pushgateway (job disinfox-sync, grouped by connector id); a failed push only warns' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l wait -d 'After pushing, follow the run\'s work in OpenCTI until it is imported (at most DURATION, default 10m); report imported and failed objects. Needs OpenCTI 6.5.7+ and MODULES' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l config -d 'Configuration file (the Python connector\'s config.yml layout)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l log-level -d 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l log-format -d 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]' -r -f -a "text\t''
json\t''"
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l disinfox-url -d 'DISINFOX base URL or full /incidents endpoint' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l opencti-url -d 'OpenCTI base URL (without /graphql)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l timeout -d 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l connect-timeout -d 'Time allowed to establish a connection [default: 10s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l retries -d 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l retry-delay -d 'First backoff delay between retries; doubles each time, with jitter [default: 1s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l ca-cert -d 'PEM file with extra CA certificates to trust (system roots are kept)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l dry-run -d 'Fetch and prepare, report what would be pushed and the next cursor; change nothing'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l json -d 'Print the run summary as one JSON object on stdout'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -l allow-large-chunks -d 'Allow --chunk-size above 12M, for brokers whose max_message_size was raised above RabbitMQ\'s default 16 MiB (a chunk travels base64-encoded, 4/3 larger)'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand sync" -s V -l version -d 'Print version'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l since -d 'Check only what DISINFOX serves newer than WHEN (same forms as fetch --since)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l max-bundle-size -d 'Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l chunk-size -d 'Largest request sent to OpenCTI per chunk, in bytes after JSON escaping (K, M, G) [default: 10M]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l chunk-objects -d 'Most objects per chunk [default: 25000]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l metrics-file -d 'Write this run\'s metrics to PATH, atomically, for node_exporter\'s textfile collector' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l pushgateway -d 'Push this run\'s metrics to a Prometheus Pushgateway (job disinfox-sync, grouped by connector id); a failed push only warns' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l wait -d 'After pushing, follow the run\'s work in OpenCTI until it is imported (at most DURATION, default 10m); report imported and failed objects. Needs OpenCTI 6.5.7+ and MODULES' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l config -d 'Configuration file (the Python connector\'s config.yml layout)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l log-level -d 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l log-format -d 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]' -r -f -a "text\t''
json\t''"
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l disinfox-url -d 'DISINFOX base URL or full /incidents endpoint' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l opencti-url -d 'OpenCTI base URL (without /graphql)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l timeout -d 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l connect-timeout -d 'Time allowed to establish a connection [default: 10s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l retries -d 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l retry-delay -d 'First backoff delay between retries; doubles each time, with jitter [default: 1s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l ca-cert -d 'PEM file with extra CA certificates to trust (system roots are kept)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l repair -d 'Push the missing objects again, with the objects they reference (never a full re-import), then look them up again'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l json -d 'Print each missing object as one JSON document on stdout instead of `ID TYPE`'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -l allow-large-chunks -d 'Allow --chunk-size above 12M, for brokers whose max_message_size was raised above RabbitMQ\'s default 16 MiB (a chunk travels base64-encoded, 4/3 larger)'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand verify" -s V -l version -d 'Print version'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l to -d 'Set the cursor to WHEN instead of forgetting it (same forms as fetch --since)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l state-file -d 'Keep the cursor in a local file instead of OpenCTI\'s connector state; without PATH, the user state directory (e.g. ~/.local/state/disinfox-sync/state.json)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l config -d 'Configuration file (the Python connector\'s config.yml layout)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l log-level -d 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l log-format -d 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]' -r -f -a "text\t''
json\t''"
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l disinfox-url -d 'DISINFOX base URL or full /incidents endpoint' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l opencti-url -d 'OpenCTI base URL (without /graphql)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l timeout -d 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l connect-timeout -d 'Time allowed to establish a connection [default: 10s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l retries -d 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l retry-delay -d 'First backoff delay between retries; doubles each time, with jitter [default: 1s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -l ca-cert -d 'PEM file with extra CA certificates to trust (system roots are kept)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand reset-state" -s V -l version -d 'Print version'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l state-file -d 'Check this state file instead of the state in OpenCTI (as sync --state-file)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l config -d 'Configuration file (the Python connector\'s config.yml layout)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l log-level -d 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l log-format -d 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]' -r -f -a "text\t''
json\t''"
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l disinfox-url -d 'DISINFOX base URL or full /incidents endpoint' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l opencti-url -d 'OpenCTI base URL (without /graphql)' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l timeout -d 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l connect-timeout -d 'Time allowed to establish a connection [default: 10s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l retries -d 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l retry-delay -d 'First backoff delay between retries; doubles each time, with jitter [default: 1s]' -r
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l ca-cert -d 'PEM file with extra CA certificates to trust (system roots are kept)' -r -F
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -l json -d 'Print the results as one JSON object on stdout'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand check" -s V -l version -d 'Print version'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand help; and not __fish_seen_subcommand_from fetch push sync verify reset-state check help" -f -a "fetch" -d 'Print a DISINFOX bundle of everything newer than WHEN (for pipelines)'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand help; and not __fish_seen_subcommand_from fetch push sync verify reset-state check help" -f -a "push" -d 'Import a bundle file (or stdin) into OpenCTI'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand help; and not __fish_seen_subcommand_from fetch push sync verify reset-state check help" -f -a "sync" -d 'Fetch everything newer than the stored cursor, import it, then advance the cursor'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand help; and not __fish_seen_subcommand_from fetch push sync verify reset-state check help" -f -a "verify" -d 'List what DISINFOX serves that OpenCTI does not hold (exit 1 if anything); --repair pushes only those objects again. Never moves the cursor'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand help; and not __fish_seen_subcommand_from fetch push sync verify reset-state check help" -f -a "reset-state" -d 'Forget the stored cursor (next sync imports everything), or set it with --to'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand help; and not __fish_seen_subcommand_from fetch push sync verify reset-state check help" -f -a "check" -d 'Check configuration, DISINFOX, OpenCTI, capabilities and state; one line per check'
complete -c disinfox-sync -n "__fish_disinfox_sync_using_subcommand help; and not __fish_seen_subcommand_from fetch push sync verify reset-state check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
