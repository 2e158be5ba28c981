//! The tiny HTTP server under every stand-in: request parsing, answers, and stopping on drop
//! and when idle.

use super::*;

#[test]
fn http_server_basics() {
    let server = Server::start(|req: &Request| {
        if req.path == "/panic" {
            panic!("boom");
        }
        let body = json!({
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "b": req.query_param("b"),
            "len": req.body.len(),
            "sum": req.body.iter().map(|&b| u64::from(b)).sum::<u64>(),
            "ua": req.header("User-Agent"),
        });
        Response::json(200, body.to_string()).with_header("X-Test", "1")
    });
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.url(), format!("http://127.0.0.1:{}", server.port()));
    let c = client();
    let r = c
        .get(format!("{}/p/a?b=x%3Ay+z&b=2&c", server.url()))
        .send()
        .unwrap();
    assert!(r.headers().contains_key("date"));
    assert_eq!(r.headers()["x-test"], "1");
    let v: Value = r.json().unwrap();
    assert_eq!(v["path"], "/p/a");
    assert_eq!(v["query"], "b=x%3Ay+z&b=2&c");
    assert_eq!(v["b"], "x:y z");
    // A large body is read exactly.
    let big: Vec<u8> = (0..30 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let want_sum: u64 = big.iter().map(|&b| u64::from(b)).sum();
    let v: Value = c
        .post(format!("{}/big", server.url()))
        .body(big)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["len"], 30 * 1024 * 1024);
    assert_eq!(v["sum"], want_sum);
    // HEAD has headers and no body.
    let r = c.head(format!("{}/h", server.url())).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.bytes().unwrap().is_empty());
    // A panicking handler gives a 500, and the server goes on.
    assert_eq!(
        c.get(format!("{}/panic", server.url()))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        500
    );
    // Chunked request body, and a client that disconnects mid-response.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.contains("\"len\":5"),
        "{out}"
    );
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(format!("POST /big HTTP/1.1\r\nContent-Length: {}\r\n\r\n", 1 << 20).as_bytes())
        .unwrap();
    s.write_all(&[1u8; 1000]).unwrap();
    drop(s);
    // Garbage request line → 400.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"NONSENSE\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(
        c.get(format!("{}/still-up", server.url()))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[test]
fn http_server_stops_on_drop_and_when_idle() {
    // Idle counts from the start too: the first request must come well within it even on a
    // loaded machine (300 ms was missed under a full suite on two cores).
    let idle = Server::start_with(
        ServerOptions {
            idle_timeout: Duration::from_secs(2),
            ..Default::default()
        },
        |_req: &Request| Response::text(200, "ok"),
    );
    let addr = idle.addr();
    assert_eq!(
        client().get(idle.url()).send().unwrap().status().as_u16(),
        200
    );
    let t = Instant::now();
    while !idle.is_stopped() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(idle.is_stopped(), "idle server did not stop");
    // The listener closes just after the flag is set: poll for it, bounded.
    let closed = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        && Instant::now() < closed
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    drop(idle);

    let server = Server::start(|_req: &Request| {
        Response::text(200, "ok").with_delay(Duration::from_secs(5))
    });
    let addr = server.addr();
    let t = Instant::now();
    drop(server);
    assert!(t.elapsed() < Duration::from_secs(3), "drop must not hang");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}
