//! A harness for driving the engine in tests and simulations: it sequences envelopes the way the
//! real sequencer does and checks, after every command, that the invariants hold and that a
//! rejection left the state byte-for-byte unchanged.

use crate::codec::digest_state;
use crate::command::{Command, Envelope};
use crate::event::Event;
use crate::ids::{AccountId, OrgId};
use crate::model::{Basis, Effect, Program, ProjectInfo, Role};
use crate::rejection::Rejection;
use crate::state::State;

#[derive(Debug, Default)]
pub struct Harness {
    pub state: State,
    /// Every accepted envelope, for replay checks.
    pub journal: Vec<Envelope>,
    pub time_ms: i64,
}

/// The organizations and accounts `Harness::with_genesis` sets up.
#[derive(Clone, Copy, Debug)]
pub struct Genesis {
    pub operator: OrgId,
    pub registrar: OrgId,
    pub fees: AccountId,
    pub buffer: AccountId,
}

impl Harness {
    pub fn new() -> Self {
        Self { state: State::new(), journal: Vec::new(), time_ms: 1_700_000_000_000 }
    }

    pub fn with_genesis() -> (Self, Genesis) {
        let mut h = Self::new();
        h.run(
            OrgId(0),
            Command::Genesis {
                operator_name: "Operator".into(),
                registrar_name: "Registrar".into(),
            },
        )
        .expect("genesis on an empty ledger");
        let g = Genesis {
            operator: OrgId(1),
            registrar: OrgId(2),
            fees: h.state.fee_account().expect("fees"),
            buffer: h.state.buffer_account().expect("buffer"),
        };
        (h, g)
    }

    /// Executes one command as `actor`, asserting the invariants afterwards and, on rejection,
    /// that nothing changed.
    pub fn run(&mut self, actor: OrgId, command: Command) -> Result<Vec<Event>, Rejection> {
        self.time_ms += 1_000;
        let env =
            Envelope { seq: self.state.last_seq() + 1, time_ms: self.time_ms, actor, command };
        let before = digest_state(&self.state);
        let result = self.execute_either(&env);
        if let Err(e) = self.state.audit() {
            panic!("after {:?}: {e}", env.command);
        }
        match &result {
            Ok(_) => self.journal.push(env),
            Err(code) => assert_eq!(
                before,
                digest_state(&self.state),
                "rejected command ({}) changed the state: {:?}",
                code.code(),
                env.command
            ),
        }
        result
    }

    /// Odd-numbered commands go through `State::execute_into`, into a list that already holds
    /// an event, so every test covers both entry points: the list must keep what it held, and
    /// gain nothing on a rejection.
    fn execute_either(&mut self, env: &Envelope) -> Result<Vec<Event>, Rejection> {
        if env.seq.is_multiple_of(2) {
            return self.state.execute(env);
        }
        let earlier = Event::OrganizationCreated { org: OrgId(u64::MAX) };
        let mut events = crate::event::Events::new();
        events.push(earlier.clone());
        let result = self.state.execute_into(env, &mut events);
        assert_eq!(events[0], earlier, "execute_into kept the events before");
        match result {
            Ok(()) => Ok(events.split_off(1)),
            Err(code) => {
                assert_eq!(events.len(), 1, "a rejection ({}) appended events", code.code());
                Err(code)
            }
        }
    }

    /// Creates a member organization with one holding account.
    pub fn member(&mut self, operator: OrgId, name: &str) -> (OrgId, AccountId) {
        let org = match self
            .run(operator, Command::CreateOrganization { name: name.into(), role: Role::Member })
        {
            Ok(events) => match events[..] {
                [Event::OrganizationCreated { org }] => org,
                _ => panic!("unexpected events {events:?}"),
            },
            Err(e) => panic!("create {name}: {e}"),
        };
        let account = self.open_account(operator, org);
        (org, account)
    }

    pub fn open_account(&mut self, operator: OrgId, org: OrgId) -> AccountId {
        match self.run(operator, Command::OpenAccount { org, name: "Main".into() }).as_deref() {
            Ok([Event::AccountOpened { account, .. }]) => *account,
            other => panic!("open account: {other:?}"),
        }
    }

    /// Replays the accepted journal into a fresh state and asserts it equals the live one.
    pub fn assert_replay_matches(&self) {
        let mut replayed = State::new();
        for env in &self.journal {
            replayed.execute(env).expect("an accepted command is accepted again on replay");
        }
        assert_eq!(digest_state(&replayed), digest_state(&self.state), "replay diverged");
        // The snapshot round-trips: the exchange's arena is rebuilt from orders in id order and
        // queues as ids, and must come back equal, time priority included.
        let bytes = crate::codec::encode_state(&self.state);
        let decoded = crate::codec::decode_state(&bytes).expect("a snapshot decodes");
        assert!(decoded == self.state, "snapshot round trip changed the state");
        assert_eq!(crate::codec::encode_state(&decoded), bytes, "snapshot bytes are canonical");
    }
}

/// A project for tests: the given program, id, name and developer; reduction, technology and
/// empty descriptive fields unless the caller overrides them with struct-update syntax.
pub fn project(program: Program, external_id: &str, name: &str, developer: OrgId) -> ProjectInfo {
    ProjectInfo {
        program,
        external_id: external_id.into(),
        name: name.into(),
        methodology: String::new(),
        country: String::new(),
        region: String::new(),
        scope: String::new(),
        project_type: String::new(),
        effect: Effect::Reduction,
        basis: Basis::Technology,
        developer,
    }
}
