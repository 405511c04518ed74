//! Who may see and do what. The one place the role table of the contract notes lives.

use uuid::Uuid;

use super::{Region, Role, Status};
use crate::error::DomainError;

/// The authenticated caller of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: Uuid,
    pub role: Role,
    pub region: Region,
    pub name: String,
}

/// Which users a caller may list and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserScope {
    All,
    Region(Region),
    OnlySelf(Uuid),
}

impl Actor {
    /// The actor of the system's own commands (the worker's, the outage rule's): acts
    /// everywhere, like a SuperAdmin.
    pub fn system() -> Actor {
        Actor { id: Uuid::nil(), role: Role::SuperAdmin, region: Region::West, name: "System".into() }
    }

    /// Users the actor may see: SuperAdmin all, NOC and supervisors their region, an FOC itself.
    pub fn user_scope(&self) -> UserScope {
        match self.role {
            Role::SuperAdmin => UserScope::All,
            Role::NOC | Role::FOCSupervisor => UserScope::Region(self.region),
            Role::FOC => UserScope::OnlySelf(self.id),
        }
    }

    /// Clients the actor may list and read: they carry addresses and network identifiers
    /// (MAC, VLAN, monitoring IPs), so the NOC, supervisors and technicians see their region's
    /// only, the SuperAdmin all.
    pub fn client_scope(&self) -> ClientScope {
        match self.role {
            Role::SuperAdmin => ClientScope::All,
            Role::NOC | Role::FOCSupervisor | Role::FOC => ClientScope::Region(self.region),
        }
    }

    /// Users and master data are written by a SuperAdmin only.
    pub fn require_super_admin(&self) -> Result<(), DomainError> {
        if self.role == Role::SuperAdmin {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!("only a SuperAdmin may do this; you are {}", self.role)))
        }
    }
}

/// The `access/{uid}` document the backend keeps in Firestore for every user. The rules let a
/// Firebase token read only while its claims match it ([`AccessDocument::admits`], the rules'
/// `hasAccess()`), so the token of a user deactivated, moved or given another role stops
/// reading once the document is written anew (the `SyncAccess` job the change enqueues).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessDocument {
    pub active: bool,
    pub role: Role,
    pub region: Region,
}

impl AccessDocument {
    /// Whether a token with these claims may read.
    pub fn admits(&self, role: Role, region: Region) -> bool {
        self.active && self.role == role && self.region == region
    }
}

/// Which clients a caller may list and read (see [`Actor::client_scope`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientScope {
    All,
    Region(Region),
}

impl ClientScope {
    /// Whether a client of that region is visible.
    pub fn sees(self, region: Region) -> bool {
        self.region().is_none_or(|mine| mine == region)
    }

    /// The only region visible, or `None` for all.
    pub fn region(self) -> Option<Region> {
        match self {
            ClientScope::All => None,
            ClientScope::Region(r) => Some(r),
        }
    }
}

/// Which tickets a caller may list and read; the same rule as `firestore.rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketScope {
    /// SuperAdmin: every ticket.
    All,
    /// NOC: every ticket of the region.
    Region(Region),
    /// FOCSupervisor: `Open` and on-going tickets of the region, and its own.
    Supervisor { region: Region, me: Uuid },
    /// FOC: `Open` tickets of the region, and its own.
    Technician { region: Region, me: Uuid },
}

impl TicketScope {
    /// Whether a ticket of that region, status and technician is visible.
    pub fn sees(self, region: Region, status: Status, foc: Option<Uuid>) -> bool {
        let (role, my_region, me) = match self {
            TicketScope::All => (Role::SuperAdmin, region, Uuid::nil()),
            TicketScope::Region(r) => (Role::NOC, r, Uuid::nil()),
            TicketScope::Supervisor { region: r, me } => (Role::FOCSupervisor, r, me),
            TicketScope::Technician { region: r, me } => (Role::FOC, r, me),
        };
        ticket_read_rule(role).holds(&Seen { my_region, me, region, status, foc })
    }
}

/// A condition of the ticket read rule, over the caller (`my_region`, `me`) and the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    Always,
    /// The ticket is in the caller's region.
    InMyRegion,
    StatusIs(Status),
    StatusIsNot(Status),
    /// An FOC holds the ticket.
    Assigned,
    /// The caller holds the ticket.
    AssignedToMe,
    All(Vec<Cond>),
    Any(Vec<Cond>),
}

/// What a condition is evaluated on.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub my_region: Region,
    pub me: Uuid,
    pub region: Region,
    pub status: Status,
    pub foc: Option<Uuid>,
}

/// Who may read which ticket: the one rule behind the API's filters and `firestore.rules`.
pub fn ticket_read_rule(role: Role) -> Cond {
    use Cond::*;
    let open_here = All(vec![InMyRegion, StatusIs(Status::Open)]);
    match role {
        Role::SuperAdmin => Always,
        Role::NOC => InMyRegion,
        Role::FOCSupervisor => {
            Any(vec![open_here, All(vec![InMyRegion, Assigned, StatusIsNot(Status::Closed)]), AssignedToMe])
        }
        Role::FOC => Any(vec![open_here, AssignedToMe]),
    }
}

impl Cond {
    pub fn holds(&self, s: &Seen) -> bool {
        match self {
            Cond::Always => true,
            Cond::InMyRegion => s.region == s.my_region,
            Cond::StatusIs(x) => s.status == *x,
            Cond::StatusIsNot(x) => s.status != *x,
            Cond::Assigned => s.foc.is_some(),
            Cond::AssignedToMe => s.foc.is_some_and(|f| f == s.me),
            Cond::All(cs) => cs.iter().all(|c| c.holds(s)),
            Cond::Any(cs) => cs.iter().any(|c| c.holds(s)),
        }
    }

    /// Whether the condition reads nothing of the ticket but its region (so a table that
    /// carries the region, such as the end-user search's, can be filtered by it alone).
    pub fn reads_region_only(&self) -> bool {
        match self {
            Cond::Always | Cond::InMyRegion => true,
            Cond::StatusIs(_) | Cond::StatusIsNot(_) | Cond::Assigned | Cond::AssignedToMe => false,
            Cond::All(cs) | Cond::Any(cs) => cs.iter().all(Cond::reads_region_only),
        }
    }

    /// The condition in the Firestore rules language, over `resource.data` (the ticket
    /// document) and the claims of the caller's Firebase token.
    pub fn to_rules(&self) -> String {
        let join = |cs: &[Cond], op: &str| {
            let parts: Vec<String> = cs.iter().map(|c| c.to_rules()).collect();
            format!("({})", parts.join(op))
        };
        match self {
            Cond::Always => "true".into(),
            Cond::InMyRegion => "resource.data.region == request.auth.token.region".into(),
            Cond::StatusIs(x) => format!("resource.data.latestStatus == '{x}'"),
            Cond::StatusIsNot(x) => format!("resource.data.latestStatus != '{x}'"),
            Cond::Assigned => "resource.data.foc != null".into(),
            Cond::AssignedToMe => {
                "(resource.data.foc != null && resource.data.foc.id == request.auth.uid)".into()
            }
            Cond::All(cs) => join(cs, " && "),
            Cond::Any(cs) => join(cs, " || "),
        }
    }
}

/// `firestore.rules`: the apps read tickets by the rule above and nothing else; nobody writes.
pub fn firestore_rules() -> String {
    let mut roles = String::new();
    for role in Role::ALL {
        roles.push_str(&format!(
            "\n          || (request.auth.token.role == '{role}' && {})",
            ticket_read_rule(*role).to_rules()
        ));
    }
    let lines = [
        "// Generated from common/src/domain/access.rs (`cgs-api firestore-rules`); do not edit.",
        "rules_version = '2';",
        "service cloud.firestore {",
        "  match /databases/{database}/documents {",
        "    // The token's claims match the user's access document (access::AccessDocument).",
        "    function hasAccess() {",
        "      let access = get(/databases/$(database)/documents/access/$(request.auth.uid)).data;",
        "      return access.active == true && access.role == request.auth.token.role",
        "        && access.region == request.auth.token.region;",
        "    }",
        "    match /tickets/{ticketId} {",
        "      allow write: if false;",
        "      allow read: if request.auth != null && hasAccess() && (false{roles});",
        "    }",
        "    match /ticketcount/{month} {",
        "      allow write: if false;",
        "      allow read: if request.auth != null && hasAccess();",
        "    }",
        "    match /access/{uid} {",
        "      allow write: if false;",
        "      allow read: if request.auth != null && request.auth.uid == uid;",
        "    }",
        "    match /{document=**} {",
        "      allow read, write: if false;",
        "    }",
        "  }",
        "}",
    ];
    let mut out = lines.join("\n").replace("{roles}", &roles);
    out.push('\n');
    out
}

impl Actor {
    pub fn ticket_scope(&self) -> TicketScope {
        match self.role {
            Role::SuperAdmin => TicketScope::All,
            Role::NOC => TicketScope::Region(self.region),
            Role::FOCSupervisor => TicketScope::Supervisor { region: self.region, me: self.id },
            Role::FOC => TicketScope::Technician { region: self.region, me: self.id },
        }
    }

    /// A field role: FOC or FOCSupervisor.
    pub fn is_field(&self) -> bool {
        matches!(self.role, Role::FOC | Role::FOCSupervisor)
    }

    /// SuperAdmin anywhere, or NOC of the region.
    pub fn is_noc_of(&self, region: Region) -> bool {
        self.role == Role::SuperAdmin || (self.role == Role::NOC && self.region == region)
    }

    /// Whether the actor creates and edits tickets at all: SuperAdmin and NOC do.
    pub fn may_write_tickets(&self) -> Result<(), DomainError> {
        match self.role {
            Role::SuperAdmin | Role::NOC => Ok(()),
            _ => Err(DomainError::Forbidden("only the NOC creates and edits tickets".into())),
        }
    }

    /// Whether the actor creates and edits tickets of `region`: a SuperAdmin anywhere, a NOC in
    /// its own region.
    pub fn may_write_tickets_in(&self, region: Region) -> Result<(), DomainError> {
        self.may_write_tickets()?;
        if self.is_noc_of(region) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "a NOC of {} creates tickets of its own region only",
                self.region
            )))
        }
    }

    /// The region of a ticket the actor creates without naming a client or region: a NOC's own
    /// (a SuperAdmin has none and must name one).
    pub fn home_region_for_tickets(&self) -> Option<Region> {
        (self.role == Role::NOC).then_some(self.region)
    }
}

impl UserScope {
    /// Whether a user of that id and region falls inside the scope.
    pub fn contains(self, id: Uuid, region: Region) -> bool {
        match self {
            UserScope::All => true,
            UserScope::Region(r) => r == region,
            UserScope::OnlySelf(me) => me == id,
        }
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
