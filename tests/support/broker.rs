//! An AMQP 0-9-1 broker stand-in: a small TCP server on 127.0.0.1 that speaks just enough of
//! the protocol for the CLI's client (connection handshake, channel.open, confirm.select,
//! passive exchange/queue declares, basic.publish with its content frames, closes) and then
//! confirms as scripted — out of order, with a NACK, never — or misbehaves before any AMQP:
//! resets the connection, or streams garbage. What a real RabbitMQ rarely shows on demand.
//!
//! Every connection and the accept loop end by themselves after [`LIFETIME`], and on drop.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the stand-in lives at most, whatever the test does.
pub const LIFETIME: Duration = Duration::from_secs(90);
/// Confirms go out once the client has sent nothing for this long (its batch is complete).
const QUIET: Duration = Duration::from_millis(50);
const FRAME_END: u8 = 0xCE;

/// How the stand-in answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// Every message acked, in reverse order of publication (single acks), the lowest two
    /// last with one `multiple` ack.
    OutOfOrder,
    /// As `OutOfOrder`, but this delivery tag is NACKed: a later tag's single ack comes first.
    Nack(u64),
    /// Publishes are taken and never confirmed.
    Silent,
    /// The TCP connection is reset (RST) as soon as it is accepted.
    ResetBeforeHandshake,
    /// Random bytes, endlessly, instead of the protocol.
    Garbage,
    /// The handshake as usual, then random bytes, endlessly, once the first publish came.
    GarbageAfterPublish,
}

pub struct Broker {
    pub port: u16,
    stop: Arc<AtomicBool>,
    published: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: Option<JoinHandle<()>>,
}

impl Broker {
    pub fn start(script: Script) -> Broker {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let published = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            script,
            stop: stop.clone(),
            published: published.clone(),
            deadline: Instant::now() + LIFETIME,
        };
        let thread = std::thread::spawn(move || accept_loop(&listener, &shared));
        Broker {
            port,
            stop,
            published,
            thread: Some(thread),
        }
    }

    /// The bodies of every message published so far, in arrival order.
    pub fn published(&self) -> Vec<Vec<u8>> {
        self.published.lock().unwrap().clone()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Clone)]
struct Shared {
    script: Script,
    stop: Arc<AtomicBool>,
    published: Arc<Mutex<Vec<Vec<u8>>>>,
    deadline: Instant,
}

impl Shared {
    fn over(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || Instant::now() >= self.deadline
    }
}

fn accept_loop(listener: &TcpListener, shared: &Shared) {
    let mut workers = Vec::new();
    while !shared.over() {
        match listener.accept() {
            Ok((stream, _)) => {
                let s = shared.clone();
                workers.push(std::thread::spawn(move || serve(stream, &s)));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => break,
        }
    }
    for w in workers {
        let _ = w.join();
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    match shared.script {
        Script::ResetBeforeHandshake => reset(&stream),
        Script::Garbage => garbage(stream, shared),
        _ => {
            let _ = Session::new(stream, shared.clone()).run();
        }
    }
}

/// Close with SO_LINGER 0: the kernel answers with RST instead of FIN.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket this function borrows, with a pointer to a live
    // `linger` and its exact size.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn garbage(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 64 << 10];
    while !shared.over() {
        for b in &mut chunk {
            // xorshift64: bytes without a pattern, cheaply.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        match stream.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

struct Frame {
    kind: u8,
    channel: u16,
    payload: Vec<u8>,
}

impl Frame {
    fn method(&self) -> Option<(u16, u16)> {
        (self.kind == 1 && self.payload.len() >= 4).then(|| {
            let p = &self.payload;
            (
                u16::from_be_bytes([p[0], p[1]]),
                u16::from_be_bytes([p[2], p[3]]),
            )
        })
    }
}

/// One client connection, after the protocol header.
struct Session {
    stream: TcpStream,
    shared: Shared,
    buf: Vec<u8>,
    /// Delivery tags published and not confirmed yet, and the channel in confirm mode.
    pending: Vec<u64>,
    next_tag: u64,
    confirm_channel: u16,
    /// A publish whose content frames are still arriving: (body size, body so far).
    content: Option<(u64, Vec<u8>)>,
}

impl Session {
    fn new(stream: TcpStream, shared: Shared) -> Session {
        Session {
            stream,
            shared,
            buf: Vec::new(),
            pending: Vec::new(),
            next_tag: 1,
            confirm_channel: 1,
            content: None,
        }
    }

    fn run(&mut self) -> std::io::Result<()> {
        self.stream.set_read_timeout(Some(QUIET))?;
        let mut header = [0u8; 8];
        self.fill(8)?;
        header.copy_from_slice(&self.buf[..8]);
        self.buf.drain(..8);
        if &header[..4] != b"AMQP" {
            return Ok(());
        }
        // connection.start: 0-9, no server properties, PLAIN, en_US.
        let mut start = method(10, 10);
        start.extend_from_slice(&[0, 9]);
        start.extend_from_slice(&0u32.to_be_bytes());
        long_str(&mut start, b"PLAIN");
        long_str(&mut start, b"en_US");
        self.send(1, 0, &start)?;
        while !self.shared.over() {
            match self.next_frame()? {
                Some(f) => {
                    if !self.answer(&f)? {
                        return Ok(());
                    }
                }
                None => self.confirm()?,
            }
        }
        Ok(())
    }

    /// Reads until the buffer holds `n` bytes (or the stand-in's life ends).
    fn fill(&mut self, n: usize) -> std::io::Result<()> {
        while self.buf.len() < n {
            if self.shared.over() {
                return Err(ErrorKind::TimedOut.into());
            }
            self.read_some()?;
        }
        Ok(())
    }

    /// `Ok(false)` when nothing came within [`QUIET`].
    fn read_some(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 16 << 10];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The next whole frame, `None` after a quiet spell.
    fn next_frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            if self.buf.len() >= 7 {
                let size = u32::from_be_bytes(self.buf[3..7].try_into().unwrap()) as usize;
                if self.buf.len() >= size + 8 {
                    let frame = Frame {
                        kind: self.buf[0],
                        channel: u16::from_be_bytes([self.buf[1], self.buf[2]]),
                        payload: self.buf[7..7 + size].to_vec(),
                    };
                    self.buf.drain(..size + 8);
                    return Ok(Some(frame));
                }
            }
            if !self.read_some()? {
                return Ok(None);
            }
        }
    }

    /// Answers one frame; `Ok(false)` once the connection is closed.
    fn answer(&mut self, f: &Frame) -> std::io::Result<bool> {
        match (f.kind, f.method()) {
            (2, _) if f.payload.len() >= 12 => {
                let size = u64::from_be_bytes(f.payload[4..12].try_into().unwrap());
                self.content = Some((size, Vec::new()));
                self.body_done()?;
            }
            (3, _) => {
                if let Some((_, body)) = &mut self.content {
                    body.extend_from_slice(&f.payload);
                }
                self.body_done()?;
            }
            (_, Some((10, 11))) => {
                // start-ok: tune (channel-max 2047, frame-max 128 KiB, no heartbeat).
                let mut tune = method(10, 30);
                tune.extend_from_slice(&2047u16.to_be_bytes());
                tune.extend_from_slice(&131_072u32.to_be_bytes());
                tune.extend_from_slice(&0u16.to_be_bytes());
                self.send(1, 0, &tune)?;
            }
            (_, Some((10, 40))) => self.send(1, 0, &with(method(10, 41), &[0]))?,
            (_, Some((10, 50))) => {
                self.send(1, 0, &method(10, 51))?;
                return Ok(false);
            }
            (_, Some((20, 10))) => self.send(1, f.channel, &with(method(20, 11), &[0; 4]))?,
            (_, Some((20, 40))) => self.send(1, f.channel, &method(20, 41))?,
            (_, Some((85, 10))) => {
                self.confirm_channel = f.channel;
                self.send(1, f.channel, &method(85, 11))?;
            }
            (_, Some((40, 10))) => self.send(1, f.channel, &method(40, 11))?,
            (_, Some((50, 10))) => self.queue_declare_ok(f)?,
            _ => {}
        }
        Ok(true)
    }

    fn queue_declare_ok(&mut self, f: &Frame) -> std::io::Result<()> {
        // queue.declare: reserved short, then the queue name (shortstr).
        let p = &f.payload;
        let len = usize::from(*p.get(6).unwrap_or(&0));
        let name = p.get(7..7 + len).unwrap_or_default().to_vec();
        let mut ok = method(50, 11);
        ok.push(name.len() as u8);
        ok.extend_from_slice(&name);
        ok.extend_from_slice(&[0; 8]);
        self.send(1, f.channel, &ok)
    }

    /// A publish whose body is complete gets its delivery tag.
    fn body_done(&mut self) -> std::io::Result<()> {
        if let Some((size, body)) = &self.content
            && body.len() as u64 >= *size
        {
            self.shared.published.lock().unwrap().push(body.clone());
            self.pending.push(self.next_tag);
            self.next_tag += 1;
            self.content = None;
        }
        Ok(())
    }

    /// The client is waiting: confirm what it published, as scripted.
    fn confirm(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() || self.shared.script == Script::Silent {
            return Ok(());
        }
        if self.shared.script == Script::GarbageAfterPublish {
            garbage(self.stream.try_clone()?, &self.shared);
            return Err(ErrorKind::ConnectionAborted.into());
        }
        let mut tags = std::mem::take(&mut self.pending);
        tags.reverse();
        // The lowest two go last, as one multiple ack of the second lowest.
        let multiple = (tags.len() >= 2).then(|| tags.split_off(tags.len() - 2));
        for tag in tags {
            let nack = self.shared.script == Script::Nack(tag);
            self.settle(tag, false, nack)?;
        }
        if let Some(low) = multiple {
            let nack = low.iter().any(|t| self.shared.script == Script::Nack(*t));
            self.settle(low[0], true, nack)?;
        }
        Ok(())
    }

    fn settle(&mut self, tag: u64, multiple: bool, nack: bool) -> std::io::Result<()> {
        let mut m = if nack {
            method(60, 120)
        } else {
            method(60, 80)
        };
        m.extend_from_slice(&tag.to_be_bytes());
        m.push(u8::from(multiple));
        self.send(1, self.confirm_channel, &m)
    }

    fn send(&mut self, kind: u8, channel: u16, payload: &[u8]) -> std::io::Result<()> {
        let mut frame = vec![kind];
        frame.extend_from_slice(&channel.to_be_bytes());
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(payload);
        frame.push(FRAME_END);
        self.stream.write_all(&frame)
    }
}

fn method(class: u16, id: u16) -> Vec<u8> {
    let mut m = class.to_be_bytes().to_vec();
    m.extend_from_slice(&id.to_be_bytes());
    m
}

fn with(mut m: Vec<u8>, tail: &[u8]) -> Vec<u8> {
    m.extend_from_slice(tail);
    m
}

fn long_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}
