//! Flows: which operation a request belongs to, carried from one part of the lab to the next.
//!
//! `server`'s middleware runs each request's handler inside a task-local [`Flow`]: the id from the request's
//! `x-fortimock-flow` header (`protocol::modeled::FLOW_HEADER`), or a fresh one when it has none (a real
//! device, curl: the front door), and the actor serving it (the service, or the virtual appliance or phone
//! its path names). Every call fortimock's parts make to each other goes through [`InFlow::in_flow`], which
//! adds the flow id and the actor as `x-fortimock-from`; work spawned onto another task keeps the flow with
//! [`spawn`]. The [`Recorders`] of the process ride along, so a store-change site can note a state
//! transition for the coverage report with [`transition`] without being handed anything.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use protocol::modeled::{FLOW_HEADER, FLOW_HEADER_MAX_LEN, FROM_HEADER};

use crate::coverage::Coverage;
use crate::timeline::Timeline;

tokio::task_local! {
    static CURRENT: Flow;
}

/// The flow a task works for.
#[derive(Clone)]
pub struct Flow {
    /// The flow id.
    pub id: Arc<str>,
    /// Who is acting: what calls made now are sent from.
    pub actor: Arc<str>,
    /// The service whose listener the flow's request arrived at (for the coverage report).
    pub service: &'static str,
    pub recorders: Recorders,
}

/// The process's timeline and coverage recorders, shared by every service of `fortimock up` as the clock is.
#[derive(Clone)]
pub struct Recorders {
    pub timeline: Arc<Timeline>,
    pub coverage: Arc<Coverage>,
    /// Who a listener's requests are served by, when it is not the service (an appliance's ftm-push
    /// listener: the appliance).
    pub(crate) actor: Option<Arc<str>>,
    /// Whether the listener's exchanges go on the timeline (the dashboard's do not: it only passes the
    /// browser's actions on, and those are recorded where they arrive).
    pub(crate) records: bool,
}

impl Recorders {
    /// Fresh recorders; the timeline keeps `capacity` exchanges.
    pub fn new(capacity: usize) -> Recorders {
        Recorders {
            timeline: Arc::new(Timeline::new(capacity)),
            coverage: Arc::new(Coverage::default()),
            actor: None,
            records: true,
        }
    }

    /// The same recorders, for a listener whose requests `actor` serves.
    pub fn acting_as(&self, actor: &str) -> Recorders {
        Recorders {
            actor: Some(actor.into()),
            ..self.clone()
        }
    }

    /// The same recorders, for a listener whose exchanges stay off the timeline (flows still pass through).
    pub fn unrecorded(&self) -> Recorders {
        Recorders {
            records: false,
            ..self.clone()
        }
    }
}

impl Default for Recorders {
    fn default() -> Recorders {
        Recorders::new(crate::journal::DEFAULT_CAPACITY)
    }
}

/// The flow of the running task, if it serves one.
pub fn current() -> Option<Flow> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `future` in `flow`.
pub async fn scope<F: Future>(flow: Flow, future: F) -> F::Output {
    CURRENT.scope(flow, future).await
}

/// `tokio::spawn`, keeping the running task's flow (a push's webhook delivery belongs to the push).
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match current() {
        Some(flow) => tokio::spawn(CURRENT.scope(flow, future)),
        None => tokio::spawn(future),
    }
}

/// Notes a state transition of `machine` (`token`, `license`, `escrow`) for the coverage report, when the
/// running task serves a request.
pub fn transition(machine: &str, from: &str, to: &str) {
    if from == to {
        return;
    }
    if let Some(flow) = current() {
        flow.recorders.coverage.transition(machine, from, to);
    }
}

/// A fresh flow id: 16 hex digits.
pub fn new_id() -> Arc<str> {
    let mut id = [0u8; 16];
    hex::encode_to_slice(rand::random::<u64>().to_be_bytes(), &mut id)
        .unwrap_or_else(|_| unreachable!("8 bytes are 16 hex digits"));
    std::str::from_utf8(&id)
        .unwrap_or_else(|_| unreachable!("hex digits are ASCII"))
        .into()
}

/// `value` when it can be a flow id or a sender's name: printable ASCII without spaces, at most
/// `FLOW_HEADER_MAX_LEN` bytes (a sender's name may hold single spaces: `phone p1`).
pub fn accepted(value: &str) -> Option<&str> {
    let ok = !value.is_empty()
        && value.len() <= FLOW_HEADER_MAX_LEN
        && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && value.trim() == value;
    ok.then_some(value)
}

/// Adds the running task's flow to a call one part of the lab makes to another.
pub trait InFlow {
    /// The flow id and the actor as `x-fortimock-flow` and `x-fortimock-from`, when the task serves a
    /// flow (else nothing: the receiver starts a flow).
    fn in_flow(self) -> Self;
}

impl InFlow for reqwest::RequestBuilder {
    fn in_flow(self) -> Self {
        match current() {
            Some(flow) => self
                .header(FLOW_HEADER, &*flow.id)
                .header(FROM_HEADER, &*flow.actor),
            None => self,
        }
    }
}

/// Who serves a request to `path` on listener `service`: a virtual appliance by its serial
/// (`/appliances/{serial}/…`), a virtual phone as `phone <id>` (`/phones/{id}/…`), else the service.
pub fn actor_of(service: &'static str, path: &str) -> Cow<'static, str> {
    let segment = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.split('/').next())
            .filter(|s| !s.is_empty())
    };
    if let Some(serial) = segment("/appliances/") {
        return Cow::Owned(serial.to_owned());
    }
    if let Some(id) = segment("/phones/") {
        return Cow::Owned(format!("phone {id}"));
    }
    Cow::Borrowed(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_come_from_the_path() {
        assert_eq!(actor_of("appliance", "/appliances/FGVM01/import"), "FGVM01");
        assert_eq!(actor_of("phone", "/phones/p1/activate"), "phone p1");
        assert_eq!(actor_of("phone", "/phones"), "phone");
        assert_eq!(
            actor_of("ftm", "/SoftToken/Provisioning.asmx/Process"),
            "ftm"
        );
    }

    #[test]
    fn header_values_are_checked() {
        assert_eq!(accepted("0123abcd"), Some("0123abcd"));
        assert_eq!(accepted("phone p1"), Some("phone p1"));
        assert_eq!(accepted(""), None);
        assert_eq!(accepted(" x"), None);
        assert_eq!(accepted("a\u{7f}"), None);
        assert_eq!(accepted(&"a".repeat(65)), None);
        assert_eq!(new_id().len(), 16);
    }

    #[tokio::test]
    async fn spawned_work_keeps_its_flow() {
        let flow = Flow {
            id: "f1".into(),
            actor: "push".into(),
            service: "push",
            recorders: Recorders::new(4),
        };
        let seen = scope(flow, async {
            spawn(async { current().map(|f| f.id) }).await
        })
        .await
        .unwrap();
        assert_eq!(seen.as_deref(), Some("f1"));
        assert!(current().is_none());
    }
}
