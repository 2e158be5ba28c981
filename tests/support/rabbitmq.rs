//! A real RabbitMQ (Debian's `rabbitmq-server`) for the AMQP tests: its own node name, data
//! directory, Erlang cookie home and ports (AMQP, distribution, epmd), on 127.0.0.1, started as
//! a child process group and stopped with it — never the system service. A test-side client
//! (the same amqprs crate the CLI uses) declares the push route and reads the push queue.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amqprs::channel::{
    BasicGetArguments, ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments,
    QueueDeleteArguments, QueuePurgeArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};

/// Where Debian puts the server script that runs as the calling user (the one in /usr/sbin
/// switches to the rabbitmq user and the system paths).
pub const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const EPMD: &str = "epmd";
pub const USER: &str = "disinfox";
pub const PASS: &str = "broker-secret-5f1c";
const START_DEADLINE: Duration = Duration::from_secs(180);

pub fn installed() -> bool {
    Path::new(SERVER).exists()
}

pub struct Rabbit {
    pub port: u16,
    /// The AMQPS listener, when the openssl command could make its certificates.
    pub tls_port: Option<u16>,
    dist_port: u16,
    epmd_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// How long the last start took until AMQP logins worked.
    pub startup: Duration,
}

impl Rabbit {
    pub fn start() -> Rabbit {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut r = Rabbit {
            port: free_port(),
            tls_port: None,
            dist_port: free_port(),
            epmd_port: free_port(),
            dir,
            child: None,
            startup: Duration::ZERO,
        };
        r.write_config();
        r.boot();
        r
    }

    pub fn node_name(&self) -> String {
        format!("disinfox-test-{}@localhost", self.port)
    }

    fn write_config(&mut self) {
        let d = self.dir.path();
        for sub in ["home", "mnesia", "log"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // No plugins at all (the management plugin would open another port).
        std::fs::write(d.join("enabled_plugins"), "[].\n").unwrap();
        let mut conf = format!(
            "listeners.tcp.default = 127.0.0.1:{}\nloopback_users = none\ndefault_user = {USER}\ndefault_pass = {PASS}\n",
            self.port
        );
        if super::certs::make_certs(d) {
            let port = free_port();
            self.tls_port = Some(port);
            conf.push_str(&format!(
                "listeners.ssl.default = 127.0.0.1:{port}\nssl_options.cacertfile = {ca}\nssl_options.certfile = {cert}\nssl_options.keyfile = {key}\nssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n",
                ca = d.join("ca.pem").display(),
                cert = d.join("leaf.pem").display(),
                key = d.join("leaf.key").display(),
            ));
        }
        std::fs::write(d.join("rabbitmq.conf"), conf).unwrap();
    }

    /// The private CA that signed the AMQPS listener's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.path("ca.pem")
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn boot(&mut self) {
        let started = Instant::now();
        let log = std::fs::File::create(self.path("server.log")).unwrap();
        let child = Command::new(SERVER)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("RABBITMQ_NODENAME", self.node_name())
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_MNESIA_BASE", self.path("mnesia"))
            .env("RABBITMQ_LOG_BASE", self.path("log"))
            .env("RABBITMQ_CONFIG_FILE", self.path("rabbitmq.conf"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                self.path("enabled_plugins"),
            )
            .env("RABBITMQ_PID_FILE", self.path("rabbitmq.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start rabbitmq-server");
        // The group the watchdog (`stop_when_this_process_exits`) kills: a restart changes it.
        std::fs::write(self.path("group"), child.id().to_string()).unwrap();
        self.child = Some(child);
        let deadline = started + START_DEADLINE;
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() && self.login_works() {
                break;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "rabbitmq-server exited with {status} before it was ready; its output:\n{}",
                    std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "rabbitmq-server was not ready within {START_DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        self.startup = started.elapsed();
    }

    fn login_works(&self) -> bool {
        block_on(async {
            match Connection::open(&self.args()).await {
                Ok(c) => {
                    let _ = c.close().await;
                    true
                }
                Err(_) => false,
            }
        })
    }

    fn args(&self) -> OpenConnectionArguments {
        OpenConnectionArguments::new("127.0.0.1", self.port, USER, PASS)
    }

    /// The broker dies as in a crash: its whole process group, at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) with a negative pid signals that process group; the broker was
            // started as its own group's leader, so nothing else is hit.
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.wait();
        }
        self.stop_epmd();
    }

    /// Whether the broker was started and not killed since.
    pub fn is_up(&self) -> bool {
        self.child.is_some()
    }

    /// For a broker kept in a `static`, which is never dropped: a watchdog outside this
    /// process waits for it to end (however it ends, a kill included), then kills the broker's
    /// process group as it is then (the `group` file), stops its epmd and removes its
    /// directory. Detached (a background subshell of a shell that exits at once, so no zombie
    /// is left here) in its own process group, with no standard stream of ours.
    pub fn stop_when_this_process_exits(&self) {
        const WATCHDOG: &str = r#"(
while kill -0 "$1" 2>/dev/null; do sleep 1; done
kill -KILL "-$(cat "$2/group")" 2>/dev/null
for _ in 1 2 3 4 5 6 7 8 9 10; do
  ERL_EPMD_PORT="$3" epmd -port "$3" -kill >/dev/null 2>&1
  sleep 1
done
rm -rf "$2"
) &"#;
        Command::new("sh")
            .args(["-c", WATCHDOG, "rabbitmq-watchdog"])
            .arg(std::process::id().to_string())
            .arg(self.dir.path())
            .arg(self.epmd_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .status()
            .expect("start the broker's watchdog");
    }

    /// The same node again, on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        self.boot();
    }

    /// epmd daemonizes out of the process group; its own command stops it, once it has seen
    /// the node go (it refuses while a node is registered), so ask until its port is closed.
    fn stop_epmd(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.epmd_port)).is_ok() && Instant::now() < deadline
        {
            let _ = Command::new(EPMD)
                .args(["-port", &self.epmd_port.to_string(), "-kill"])
                .env("ERL_EPMD_PORT", self.epmd_port.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What OpenCTI sets up when a connector registers: the push exchange, the connector's
    /// durable queue, bound with its routing key. Emptied, for a scenario of its own.
    pub fn declare_push_route(&self, exchange: &str, queue: &str, routing_key: &str) {
        block_on(async {
            let conn = Connection::open(&self.args()).await.unwrap();
            let ch = conn.open_channel(None).await.unwrap();
            let mut ex = ExchangeDeclareArguments::new(exchange, "direct");
            ex.durable(true);
            ch.exchange_declare(ex).await.unwrap();
            ch.queue_declare(QueueDeclareArguments::durable_client_named(queue))
                .await
                .unwrap();
            ch.queue_bind(QueueBindArguments::new(queue, exchange, routing_key))
                .await
                .unwrap();
            ch.queue_purge(QueuePurgeArguments::new(queue))
                .await
                .unwrap();
            let _ = ch.close().await;
            let _ = conn.close().await;
        });
    }

    /// The push route with a queue that holds at most `max_length` messages and refuses the
    /// rest (`x-overflow: reject-publish`): RabbitMQ then NACKs every publish beyond it, with
    /// publisher confirms on. Declared afresh (a queue's arguments cannot change in place);
    /// [`Rabbit::delete_queue`] puts it back for [`Rabbit::declare_push_route`].
    pub fn declare_limited_push_route(
        &self,
        exchange: &str,
        queue: &str,
        routing_key: &str,
        max_length: i64,
    ) {
        use amqprs::{FieldTable, FieldValue};
        self.delete_queue(queue);
        block_on(async {
            let conn = Connection::open(&self.args()).await.unwrap();
            let ch = conn.open_channel(None).await.unwrap();
            let mut ex = ExchangeDeclareArguments::new(exchange, "direct");
            ex.durable(true);
            ch.exchange_declare(ex).await.unwrap();
            let mut limits = FieldTable::new();
            limits.insert(
                "x-max-length".try_into().unwrap(),
                FieldValue::l(max_length),
            );
            limits.insert("x-overflow".try_into().unwrap(), "reject-publish".into());
            let mut args = QueueDeclareArguments::durable_client_named(queue);
            args.arguments(limits);
            ch.queue_declare(args).await.unwrap();
            ch.queue_bind(QueueBindArguments::new(queue, exchange, routing_key))
                .await
                .unwrap();
            let _ = ch.close().await;
            let _ = conn.close().await;
        });
    }

    /// How many messages `queue` holds (a passive declare).
    pub fn message_count(&self, queue: &str) -> u64 {
        block_on(async {
            let conn = Connection::open(&self.args()).await.unwrap();
            let ch = conn.open_channel(None).await.unwrap();
            let mut args = QueueDeclareArguments::new(queue);
            args.passive(true);
            let (_, count, _) = ch.queue_declare(args).await.unwrap().unwrap();
            let _ = ch.close().await;
            let _ = conn.close().await;
            u64::from(count)
        })
    }

    pub fn delete_queue(&self, queue: &str) {
        block_on(async {
            let conn = Connection::open(&self.args()).await.unwrap();
            let ch = conn.open_channel(None).await.unwrap();
            let _ = ch.queue_delete(QueueDeleteArguments::new(queue)).await;
            let _ = ch.close().await;
            let _ = conn.close().await;
        });
    }

    /// Every message in `queue`, taken off it (acked), with its delivery mode and encoding.
    pub fn drain(&self, queue: &str) -> Vec<Received> {
        block_on(async {
            let conn = Connection::open(&self.args()).await.unwrap();
            let ch = conn.open_channel(None).await.unwrap();
            let mut out = Vec::new();
            while let Some((_, props, body)) = ch
                .basic_get(BasicGetArguments::new(queue).no_ack(true).finish())
                .await
                .unwrap()
            {
                out.push(Received {
                    delivery_mode: props.delivery_mode(),
                    content_encoding: props.content_encoding().cloned(),
                    body,
                });
            }
            let _ = ch.close().await;
            let _ = conn.close().await;
            out
        })
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One message as a worker would take it off the push queue.
pub struct Received {
    pub delivery_mode: Option<u8>,
    pub content_encoding: Option<String>,
    pub body: Vec<u8>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
