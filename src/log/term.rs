//! Termination state of a stream: the two (tcplog) or four (httplog) flag characters of a
//! traffic log line, e.g. `----`, `SC--`, `cD--`, `PR--`, `--NI`.
//!
//! Compare with 1.4 `src/log.c` (`sess_term_cond` = `-cCsSPRI`, `sess_fin_state` = `-RCHDLQT`)
//! and `src/proto_http.c` (`sess_cookie` = `NIDVEO`, `sess_set_cookie` = `NPDIRU`). In 1.4 the
//! first analyzer to record a cause or a phase wins (`if (!(s->flags & SN_ERR_MASK)) ...`);
//! [`Termination::set_cause`] and [`Termination::set_phase`] keep that rule.

/// First character: what ended the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Cause {
    /// `-`: normal end.
    #[default]
    None,
    /// `c`: client-side timeout.
    ClientTimeout,
    /// `C`: the client aborted or a client-side error.
    ClientAbort,
    /// `s`: server-side timeout (connect, queue or response).
    ServerTimeout,
    /// `S`: the server aborted, refused the connection or no server was usable.
    ServerAbort,
    /// `P`: a proxy decision (deny, redirect, stats, bad request, limits).
    Proxy,
    /// `R`: a resource was exhausted (memory, sockets, ports).
    Resource,
    /// `I`: an internal error.
    Internal,
}

impl Cause {
    /// The log character.
    pub fn as_char(self) -> u8 {
        match self {
            Cause::None => b'-',
            Cause::ClientTimeout => b'c',
            Cause::ClientAbort => b'C',
            Cause::ServerTimeout => b's',
            Cause::ServerAbort => b'S',
            Cause::Proxy => b'P',
            Cause::Resource => b'R',
            Cause::Internal => b'I',
        }
    }
}

/// Second character: the phase the stream was in when it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Phase {
    /// `-`: normal end, nothing pending.
    #[default]
    None,
    /// `R`: waiting for the complete request from the client.
    Request,
    /// `Q`: waiting in a queue for a connection slot.
    Queue,
    /// `C`: connecting to the server.
    Connect,
    /// `H`: waiting for the complete response headers from the server.
    Headers,
    /// `D`: transferring data.
    Data,
    /// `L`: sending the last data to the client (server already closed).
    Last,
    /// `T`: the request was tarpitted.
    Tarpit,
}

impl Phase {
    /// The log character.
    pub fn as_char(self) -> u8 {
        match self {
            Phase::None => b'-',
            Phase::Request => b'R',
            Phase::Queue => b'Q',
            Phase::Connect => b'C',
            Phase::Headers => b'H',
            Phase::Data => b'D',
            Phase::Last => b'L',
            Phase::Tarpit => b'T',
        }
    }
}

/// Cause and phase: how and when a stream ended. Both default to `-`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Termination {
    pub cause: Cause,
    pub phase: Phase,
}

impl Termination {
    pub const NORMAL: Termination = Termination {
        cause: Cause::None,
        phase: Phase::None,
    };

    pub fn new(cause: Cause, phase: Phase) -> Self {
        Termination { cause, phase }
    }

    /// Records `cause` unless one was already recorded (1.4 keeps the first cause).
    pub fn set_cause(&mut self, cause: Cause) {
        if self.cause == Cause::None {
            self.cause = cause;
        }
    }

    /// Records `phase` unless one was already recorded (1.4 keeps the first phase).
    pub fn set_phase(&mut self, phase: Phase) {
        if self.phase == Phase::None {
            self.phase = phase;
        }
    }

    /// Records both, each only if still unset (1.4 `http_server_error`).
    pub fn set(&mut self, cause: Cause, phase: Phase) {
        self.set_cause(cause);
        self.set_phase(phase);
    }

    /// True when a cause was recorded: such a stream counts as an error for
    /// `option dontlog-normal` and `option log-separate-errors`.
    pub fn is_error(self) -> bool {
        self.cause != Cause::None
    }

    /// The two tcplog characters.
    pub fn chars(self) -> [u8; 2] {
        [self.cause.as_char(), self.phase.as_char()]
    }
}

/// Third character (HTTP only): what happened to the persistence cookie in the request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReqCookie {
    /// `-`: the backend has no `cookie` configured.
    #[default]
    NotConfigured,
    /// `N`: no persistence cookie in the request.
    None,
    /// `I`: a cookie that matched no server.
    Invalid,
    /// `D`: the cookie designated a server that was down.
    Down,
    /// `V`: a valid cookie, the request went to its server.
    Valid,
    /// `E`: the cookie was expired (`maxidle`).
    Expired,
    /// `O`: the cookie was too old (`maxlife`).
    Old,
}

impl ReqCookie {
    /// The log character.
    pub fn as_char(self) -> u8 {
        match self {
            ReqCookie::NotConfigured => b'-',
            ReqCookie::None => b'N',
            ReqCookie::Invalid => b'I',
            ReqCookie::Down => b'D',
            ReqCookie::Valid => b'V',
            ReqCookie::Expired => b'E',
            ReqCookie::Old => b'O',
        }
    }
}

/// Fourth character (HTTP only): what happened to the persistence cookie in the response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResCookie {
    /// `-`: the backend has no `cookie` configured.
    #[default]
    NotConfigured,
    /// `N`: no Set-Cookie for the persistence cookie.
    None,
    /// `P`: the server's Set-Cookie was passed unchanged.
    Passive,
    /// `D`: the server's Set-Cookie was deleted.
    Deleted,
    /// `I`: haproxy inserted a Set-Cookie.
    Inserted,
    /// `R`: the server's Set-Cookie was rewritten (`rewrite`, `prefix`).
    Rewritten,
    /// `U`: the cookie's date was updated (`maxidle`).
    Updated,
}

impl ResCookie {
    /// The log character.
    pub fn as_char(self) -> u8 {
        match self {
            ResCookie::NotConfigured => b'-',
            ResCookie::None => b'N',
            ResCookie::Passive => b'P',
            ResCookie::Deleted => b'D',
            ResCookie::Inserted => b'I',
            ResCookie::Rewritten => b'R',
            ResCookie::Updated => b'U',
        }
    }
}

/// The four httplog characters: termination plus the persistence cookie flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TermState {
    pub term: Termination,
    pub req_cookie: ReqCookie,
    pub res_cookie: ResCookie,
}

impl TermState {
    pub fn new(term: Termination, req_cookie: ReqCookie, res_cookie: ResCookie) -> Self {
        TermState {
            term,
            req_cookie,
            res_cookie,
        }
    }

    /// Renders the four characters. 1.4 prints `-` for both cookie flags whenever the
    /// backend has no cookie configured, whatever the transaction recorded, so callers
    /// pass `cookie_configured = backend.cookie.is_some()`. With a cookie configured, a
    /// flag nothing was recorded for (the request was denied, or no response came) prints
    /// `N`: 1.4's flags start at zero, which is `N` in both alphabets.
    pub fn chars(self, cookie_configured: bool) -> [u8; 4] {
        let [c, p] = self.term.chars();
        if cookie_configured {
            let rq = match self.req_cookie {
                ReqCookie::NotConfigured => ReqCookie::None,
                other => other,
            };
            let rs = match self.res_cookie {
                ResCookie::NotConfigured => ResCookie::None,
                other => other,
            };
            [c, p, rq.as_char(), rs.as_char()]
        } else {
            [c, p, b'-', b'-']
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_and_phase_alphabets_match_1_4() {
        let causes = [
            Cause::None,
            Cause::ClientTimeout,
            Cause::ClientAbort,
            Cause::ServerTimeout,
            Cause::ServerAbort,
            Cause::Proxy,
            Cause::Resource,
            Cause::Internal,
        ];
        let s: Vec<u8> = causes.iter().map(|c| c.as_char()).collect();
        assert_eq!(s, b"-cCsSPRI");
        let phases = [
            Phase::None,
            Phase::Request,
            Phase::Connect,
            Phase::Headers,
            Phase::Data,
            Phase::Last,
            Phase::Queue,
            Phase::Tarpit,
        ];
        let s: Vec<u8> = phases.iter().map(|p| p.as_char()).collect();
        assert_eq!(s, b"-RCHDLQT");
    }

    #[test]
    fn cookie_alphabets_match_1_4() {
        let req = [
            ReqCookie::NotConfigured,
            ReqCookie::None,
            ReqCookie::Invalid,
            ReqCookie::Down,
            ReqCookie::Valid,
            ReqCookie::Expired,
            ReqCookie::Old,
        ];
        let s: Vec<u8> = req.iter().map(|c| c.as_char()).collect();
        assert_eq!(s, b"-NIDVEO");
        let res = [
            ResCookie::NotConfigured,
            ResCookie::None,
            ResCookie::Passive,
            ResCookie::Deleted,
            ResCookie::Inserted,
            ResCookie::Rewritten,
            ResCookie::Updated,
        ];
        let s: Vec<u8> = res.iter().map(|c| c.as_char()).collect();
        assert_eq!(s, b"-NPDIRU");
    }

    #[test]
    fn first_cause_and_phase_win() {
        let mut t = Termination::default();
        assert_eq!(&t.chars(), b"--");
        assert!(!t.is_error());
        t.set(Cause::ServerAbort, Phase::Connect);
        t.set(Cause::ClientAbort, Phase::Data);
        assert_eq!(&t.chars(), b"SC");
        assert!(t.is_error());
        // A phase may be recorded alone and the cause later.
        let mut t = Termination::default();
        t.set_phase(Phase::Headers);
        t.set_cause(Cause::ServerTimeout);
        t.set_phase(Phase::Data);
        assert_eq!(&t.chars(), b"sH");
    }

    #[test]
    fn four_chars_follow_cookie_configuration() {
        let st = TermState::new(Termination::NORMAL, ReqCookie::None, ResCookie::Inserted);
        assert_eq!(&st.chars(true), b"--NI");
        assert_eq!(&st.chars(false), b"----");
        let st = TermState::new(
            Termination::new(Cause::Proxy, Phase::Request),
            ReqCookie::Valid,
            ResCookie::Updated,
        );
        assert_eq!(&st.chars(true), b"PRVU");
        // Cookie configured, nothing recorded (denied before persistence): `NN`.
        assert_eq!(&TermState::default().chars(true), b"--NN");
        assert_eq!(&TermState::default().chars(false), b"----");
    }
}
