//! The byte-moving floor of a full `sync`: the least a program can do to move the same bytes
//! from the DISINFOX stand-in to the OpenCTI stand-in. It runs as a child of the spawner
//! (`bench-sync __floor …`), so its CPU is measured like the CLI's.
//!
//! One GET over a plain socket; one pass over the answer that finds each object's bounds and
//! its `id` (memchr between structural bytes, no validation); each object escaped as the
//! content of a JSON string (memchr2 for `"` and `\`: DISINFOX's compact JSON holds no raw
//! control byte) into chunks of at most `chunk` request bytes; each chunk sent as one
//! `stixBundlePush` over HTTP/1.1 (a connection per chunk, as the stand-in closes each) with a fixed request text (no GraphQL client, no
//! registration, no work). The connector is the one the measured `sync` registered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct FloorArgs {
    pub disinfox_port: u16,
    /// Path and query of the request, e.g. `/incidents?newer_than=…`.
    pub disinfox_target: String,
    /// Path of the GraphQL endpoint, e.g. `/graphql`.
    pub opencti_path: String,
    pub opencti_port: u16,
    pub connector_id: String,
    pub chunk: usize,
}

impl FloorArgs {
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "__floor".into(),
            self.disinfox_port.to_string(),
            self.disinfox_target.clone(),
            self.opencti_path.clone(),
            self.opencti_port.to_string(),
            self.connector_id.clone(),
            self.chunk.to_string(),
        ]
    }

    fn parse(a: &[String]) -> Option<FloorArgs> {
        Some(FloorArgs {
            disinfox_port: a.first()?.parse().ok()?,
            disinfox_target: a.get(1)?.clone(),
            opencti_path: a.get(2)?.clone(),
            opencti_port: a.get(3)?.parse().ok()?,
            connector_id: a.get(4)?.clone(),
            chunk: a.get(5)?.parse().ok()?,
        })
    }
}

/// The key and the token come from the environment (`DISINFOX_API_KEY`, `OPENCTI_TOKEN`, as
/// for the CLI), never from the command line, which the benchmark prints.
fn secret(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

/// `bench-sync __floor ARGS…`: prints `objects ids chunks bytes` and exits 0, or one line on
/// stderr and exit 1.
pub fn floor_main(args: &[String]) -> ! {
    let code = match FloorArgs::parse(args)
        .ok_or_else(|| "bad arguments".to_string())
        .and_then(|a| run(&a))
    {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("floor: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn run(a: &FloorArgs) -> Result<String, String> {
    let mut dx = connect(a.disinfox_port)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        a.disinfox_target,
        secret("DISINFOX_API_KEY")?
    );
    dx.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    dx.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let start = memchr::memmem::find(&answer, b"\r\n\r\n").ok_or("no HTTP head")? + 4;
    let body = &answer[start..];

    let token = secret("OPENCTI_TOKEN")?;
    let head = format!(
        r#"{{"query":"mutation Push($connectorId: String!, $bundle: String!) {{ stixBundlePush(connectorId: $connectorId, bundle: $bundle) }}","variables":{{"connectorId":"{}","bundle":"{{\"type\":\"bundle\",\"id\":\"bundle--00000000-0000-4000-8000-000000000000\",\"objects\":["#,
        a.connector_id
    );
    const TAIL: &[u8] = br#"]}"}}"#;
    let mut chunk = Vec::with_capacity(a.chunk);
    chunk.extend_from_slice(head.as_bytes());
    let (mut objects, mut ids, mut chunks, mut sent) = (0usize, 0usize, 0usize, 0usize);
    let mut in_chunk = 0usize;
    for (object, has_id) in Objects::new(body) {
        objects += 1;
        ids += usize::from(has_id);
        if in_chunk > 0 && chunk.len() + object.len() * 2 + TAIL.len() + 1 > a.chunk {
            chunk.extend_from_slice(TAIL);
            sent += push(a, &token, &chunk)?;
            chunks += 1;
            chunk.truncate(head.len());
            in_chunk = 0;
        }
        if in_chunk > 0 {
            chunk.push(b',');
        }
        escape_into(&mut chunk, object);
        in_chunk += 1;
    }
    if in_chunk > 0 {
        chunk.extend_from_slice(TAIL);
        sent += push(a, &token, &chunk)?;
        chunks += 1;
    }
    Ok(format!("{objects} {ids} {chunks} {sent}"))
}

fn connect(port: u16) -> Result<TcpStream, String> {
    let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(300)))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// Sends one request and reads its answer (Content-Length framed); the request body's size.
/// The stand-in answers `Connection: close`, so each chunk has a connection of its own.
fn push(a: &FloorArgs, token: &str, body: &[u8]) -> Result<usize, String> {
    let s = &mut connect(a.opencti_port)?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        a.opencti_path,
        body.len()
    );
    let sent = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(body));
    if let Err(e) = sent {
        // What the server said before it closed, if anything.
        let mut said = Vec::new();
        let _ = s.read_to_end(&mut said);
        let said = String::from_utf8_lossy(&said[..said.len().min(300)]).into_owned();
        return Err(format!("sending a chunk: {e}; OpenCTI answered {said:?}"));
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let body_at = loop {
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("OpenCTI closed the connection".into());
        }
        answer.extend_from_slice(&buf[..n]);
        if let Some(i) = memchr::memmem::find(&answer, b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&answer[..body_at]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no Content-Length in OpenCTI's answer")?;
    while answer.len() < body_at + len {
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("OpenCTI closed the connection".into());
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let reply = &answer[body_at..body_at + len];
    if memchr::memmem::find(reply, b"\"stixBundlePush\":true").is_none() {
        return Err(format!(
            "push refused: {}",
            String::from_utf8_lossy(&reply[..reply.len().min(300)])
        ));
    }
    Ok(body.len())
}

/// Escapes `s` as the content of a JSON string (`"` and `\` only; see the module comment).
fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    let mut at = 0;
    for i in memchr::memchr2_iter(b'"', b'\\', s) {
        out.extend_from_slice(&s[at..i]);
        out.extend_from_slice(&[b'\\', s[i]]);
        at = i + 1;
    }
    out.extend_from_slice(&s[at..]);
}

/// The objects of a bundle's `objects` array (the braces at depth 2), each with whether it has
/// an `"id"` key at its top level. Brace depth only: strings are skipped with memchr2.
struct Objects<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Objects<'a> {
    fn new(s: &'a [u8]) -> Self {
        Objects { s, at: 0 }
    }

    /// Index just past the string that opens at `at` (on its `"`).
    fn skip_string(&self, mut at: usize) -> usize {
        at += 1;
        while let Some(i) = memchr::memchr2(b'"', b'\\', &self.s[at..]) {
            if self.s[at + i] == b'\\' {
                at += i + 2;
            } else {
                return at + i + 1;
            }
        }
        self.s.len()
    }
}

impl<'a> Iterator for Objects<'a> {
    type Item = (&'a [u8], bool);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        let mut depth = if self.at == 0 { 0 } else { 1 };
        let mut start = 0;
        let mut has_id = false;
        while let Some(i) = memchr::memchr3(b'"', b'{', b'}', &s[self.at..]) {
            let i = self.at + i;
            match s[i] {
                b'"' => {
                    if depth == 2 && s[i + 1..].starts_with(b"id\":\"") {
                        has_id = true;
                    }
                    self.at = self.skip_string(i);
                    continue;
                }
                b'{' => {
                    depth += 1;
                    if depth == 2 {
                        start = i;
                    }
                }
                _ => {
                    depth -= 1;
                    if depth == 1 {
                        self.at = i + 1;
                        return Some((&s[start..=i], has_id));
                    }
                }
            }
            self.at = i + 1;
        }
        None
    }
}
