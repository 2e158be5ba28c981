
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'disinfox-sync' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'disinfox-sync'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'disinfox-sync' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (the Python connector''s config.yml layout)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]')
            [CompletionResult]::new('--disinfox-url', '--disinfox-url', [CompletionResultType]::ParameterName, 'DISINFOX base URL or full /incidents endpoint')
            [CompletionResult]::new('--opencti-url', '--opencti-url', [CompletionResultType]::ParameterName, 'OpenCTI base URL (without /graphql)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Time allowed to establish a connection [default: 10s]')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'First backoff delay between retries; doubles each time, with jitter [default: 1s]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'PEM file with extra CA certificates to trust (system roots are kept)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Print a DISINFOX bundle of everything newer than WHEN (for pipelines)')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Import a bundle file (or stdin) into OpenCTI')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Fetch everything newer than the stored cursor, import it, then advance the cursor')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'List what DISINFOX serves that OpenCTI does not hold (exit 1 if anything); --repair pushes only those objects again. Never moves the cursor')
            [CompletionResult]::new('reset-state', 'reset-state', [CompletionResultType]::ParameterValue, 'Forget the stored cursor (next sync imports everything), or set it with --to')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check configuration, DISINFOX, OpenCTI, capabilities and state; one line per check')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'disinfox-sync;fetch' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Lower bound, exclusive: RFC 3339 (any offset), YYYY-MM-DD, a duration ago (36h, 7days), or all')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the bundle to FILE (atomically) instead of stdout; - means stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the bundle to FILE (atomically) instead of stdout; - means stdout')
            [CompletionResult]::new('--max-bundle-size', '--max-bundle-size', [CompletionResultType]::ParameterName, 'Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (the Python connector''s config.yml layout)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]')
            [CompletionResult]::new('--disinfox-url', '--disinfox-url', [CompletionResultType]::ParameterName, 'DISINFOX base URL or full /incidents endpoint')
            [CompletionResult]::new('--opencti-url', '--opencti-url', [CompletionResultType]::ParameterName, 'OpenCTI base URL (without /graphql)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Time allowed to establish a connection [default: 10s]')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'First backoff delay between retries; doubles each time, with jitter [default: 1s]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'PEM file with extra CA certificates to trust (system roots are kept)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'disinfox-sync;push' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Bundle file to import; - or nothing reads stdin')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Bundle file to import; - or nothing reads stdin')
            [CompletionResult]::new('--max-bundle-size', '--max-bundle-size', [CompletionResultType]::ParameterName, 'Refuse a bundle larger than this many bytes (suffixes K, M, G) [default: 1G]')
            [CompletionResult]::new('--chunk-size', '--chunk-size', [CompletionResultType]::ParameterName, 'Largest request sent to OpenCTI per chunk, in bytes after JSON escaping (K, M, G) [default: 10M]')
            [CompletionResult]::new('--chunk-objects', '--chunk-objects', [CompletionResultType]::ParameterName, 'Most objects per chunk [default: 25000]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After pushing, follow the run''s work in OpenCTI until it is imported (at most DURATION, default 10m); report imported and failed objects. Needs OpenCTI 6.5.7+ and MODULES')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (the Python connector''s config.yml layout)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]')
            [CompletionResult]::new('--disinfox-url', '--disinfox-url', [CompletionResultType]::ParameterName, 'DISINFOX base URL or full /incidents endpoint')
            [CompletionResult]::new('--opencti-url', '--opencti-url', [CompletionResultType]::ParameterName, 'OpenCTI base URL (without /graphql)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Time allowed to establish a connection [default: 10s]')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'First backoff delay between retries; doubles each time, with jitter [default: 1s]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'PEM file with extra CA certificates to trust (system roots are kept)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Validate, complete and chunk the bundle and report the chunks; contact nobody')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the run summary as one JSON object on stdout')
            [CompletionResult]::new('--allow-large-chunks', '--allow-large-chunks', [CompletionResultType]::ParameterName, 'Allow --chunk-size above 12M, for brokers whose max_message_size was raised above RabbitMQ''s default 16 MiB (a chunk travels base64-encoded, 4/3 larger)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'disinfox-sync;sync' {
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'Keep the cursor in a local file instead of OpenCTI''s connector state; without PATH, the user state directory (e.g. ~/.local/state/disinfox-sync/state.json)')
            [CompletionResult]::new('--settle', '--settle', [CompletionResultType]::ParameterName, 'Keep the cursor this far behind DISINFOX''s clock, to catch objects committed late [default: 60s]')
            [CompletionResult]::new('--queue-threshold', '--queue-threshold', [CompletionResultType]::ParameterName, 'Skip the run (exit 0) while the connector''s queue in OpenCTI holds more than MB megabytes [default: 500]')
            [CompletionResult]::new('--max-bundle-size', '--max-bundle-size', [CompletionResultType]::ParameterName, 'Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]')
            [CompletionResult]::new('--disk-limit', '--disk-limit', [CompletionResultType]::ParameterName, 'Write at most this many bytes under TMPDIR to stage the answer (suffixes K, M, G): a run that needs more stops with 74 before it pushes anything; set it to your emptyDir''s sizeLimit [default: TMPDIR''s free space]')
            [CompletionResult]::new('--chunk-size', '--chunk-size', [CompletionResultType]::ParameterName, 'Largest request sent to OpenCTI per chunk, in bytes after JSON escaping (K, M, G) [default: 10M]')
            [CompletionResult]::new('--chunk-objects', '--chunk-objects', [CompletionResultType]::ParameterName, 'Most objects per chunk [default: 25000]')
            [CompletionResult]::new('--metrics-file', '--metrics-file', [CompletionResultType]::ParameterName, 'Write this run''s metrics to PATH, atomically, for node_exporter''s textfile collector')
            [CompletionResult]::new('--pushgateway', '--pushgateway', [CompletionResultType]::ParameterName, 'Push this run''s metrics to a Prometheus Pushgateway (job disinfox-sync, grouped by connector id); a failed push only warns')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After pushing, follow the run''s work in OpenCTI until it is imported (at most DURATION, default 10m); report imported and failed objects. Needs OpenCTI 6.5.7+ and MODULES')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (the Python connector''s config.yml layout)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]')
            [CompletionResult]::new('--disinfox-url', '--disinfox-url', [CompletionResultType]::ParameterName, 'DISINFOX base URL or full /incidents endpoint')
            [CompletionResult]::new('--opencti-url', '--opencti-url', [CompletionResultType]::ParameterName, 'OpenCTI base URL (without /graphql)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Time allowed to establish a connection [default: 10s]')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'First backoff delay between retries; doubles each time, with jitter [default: 1s]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'PEM file with extra CA certificates to trust (system roots are kept)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Fetch and prepare, report what would be pushed and the next cursor; change nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the run summary as one JSON object on stdout')
            [CompletionResult]::new('--allow-large-chunks', '--allow-large-chunks', [CompletionResultType]::ParameterName, 'Allow --chunk-size above 12M, for brokers whose max_message_size was raised above RabbitMQ''s default 16 MiB (a chunk travels base64-encoded, 4/3 larger)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'disinfox-sync;verify' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Check only what DISINFOX serves newer than WHEN (same forms as fetch --since)')
            [CompletionResult]::new('--max-bundle-size', '--max-bundle-size', [CompletionResultType]::ParameterName, 'Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]')
            [CompletionResult]::new('--chunk-size', '--chunk-size', [CompletionResultType]::ParameterName, 'Largest request sent to OpenCTI per chunk, in bytes after JSON escaping (K, M, G) [default: 10M]')
            [CompletionResult]::new('--chunk-objects', '--chunk-objects', [CompletionResultType]::ParameterName, 'Most objects per chunk [default: 25000]')
            [CompletionResult]::new('--metrics-file', '--metrics-file', [CompletionResultType]::ParameterName, 'Write this run''s metrics to PATH, atomically, for node_exporter''s textfile collector')
            [CompletionResult]::new('--pushgateway', '--pushgateway', [CompletionResultType]::ParameterName, 'Push this run''s metrics to a Prometheus Pushgateway (job disinfox-sync, grouped by connector id); a failed push only warns')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After pushing, follow the run''s work in OpenCTI until it is imported (at most DURATION, default 10m); report imported and failed objects. Needs OpenCTI 6.5.7+ and MODULES')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (the Python connector''s config.yml layout)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]')
            [CompletionResult]::new('--disinfox-url', '--disinfox-url', [CompletionResultType]::ParameterName, 'DISINFOX base URL or full /incidents endpoint')
            [CompletionResult]::new('--opencti-url', '--opencti-url', [CompletionResultType]::ParameterName, 'OpenCTI base URL (without /graphql)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Time allowed to establish a connection [default: 10s]')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'First backoff delay between retries; doubles each time, with jitter [default: 1s]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'PEM file with extra CA certificates to trust (system roots are kept)')
            [CompletionResult]::new('--repair', '--repair', [CompletionResultType]::ParameterName, 'Push the missing objects again, with the objects they reference (never a full re-import), then look them up again')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print each missing object as one JSON document on stdout instead of `ID TYPE`')
            [CompletionResult]::new('--allow-large-chunks', '--allow-large-chunks', [CompletionResultType]::ParameterName, 'Allow --chunk-size above 12M, for brokers whose max_message_size was raised above RabbitMQ''s default 16 MiB (a chunk travels base64-encoded, 4/3 larger)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'disinfox-sync;reset-state' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Set the cursor to WHEN instead of forgetting it (same forms as fetch --since)')
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'Keep the cursor in a local file instead of OpenCTI''s connector state; without PATH, the user state directory (e.g. ~/.local/state/disinfox-sync/state.json)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (the Python connector''s config.yml layout)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]')
            [CompletionResult]::new('--disinfox-url', '--disinfox-url', [CompletionResultType]::ParameterName, 'DISINFOX base URL or full /incidents endpoint')
            [CompletionResult]::new('--opencti-url', '--opencti-url', [CompletionResultType]::ParameterName, 'OpenCTI base URL (without /graphql)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Time allowed to establish a connection [default: 10s]')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'First backoff delay between retries; doubles each time, with jitter [default: 1s]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'PEM file with extra CA certificates to trust (system roots are kept)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'disinfox-sync;check' {
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'Check this state file instead of the state in OpenCTI (as sync --state-file)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (the Python connector''s config.yml layout)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr; json writes one object per line [default: text, or json when OPENCTI_JSON_LOGGING is true]')
            [CompletionResult]::new('--disinfox-url', '--disinfox-url', [CompletionResultType]::ParameterName, 'DISINFOX base URL or full /incidents endpoint')
            [CompletionResult]::new('--opencti-url', '--opencti-url', [CompletionResultType]::ParameterName, 'OpenCTI base URL (without /graphql)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Time allowed to establish a connection [default: 10s]')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'First backoff delay between retries; doubles each time, with jitter [default: 1s]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'PEM file with extra CA certificates to trust (system roots are kept)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the results as one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'disinfox-sync;help' {
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Print a DISINFOX bundle of everything newer than WHEN (for pipelines)')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Import a bundle file (or stdin) into OpenCTI')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Fetch everything newer than the stored cursor, import it, then advance the cursor')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'List what DISINFOX serves that OpenCTI does not hold (exit 1 if anything); --repair pushes only those objects again. Never moves the cursor')
            [CompletionResult]::new('reset-state', 'reset-state', [CompletionResultType]::ParameterValue, 'Forget the stored cursor (next sync imports everything), or set it with --to')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check configuration, DISINFOX, OpenCTI, capabilities and state; one line per check')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'disinfox-sync;help;fetch' {
            break
        }
        'disinfox-sync;help;push' {
            break
        }
        'disinfox-sync;help;sync' {
            break
        }
        'disinfox-sync;help;verify' {
            break
        }
        'disinfox-sync;help;reset-state' {
            break
        }
        'disinfox-sync;help;check' {
            break
        }
        'disinfox-sync;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
