//! Who may see and do what. The one place the role table of the contract notes lives.

use uuid::Uuid;

use super::{Region, Role};
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
    /// Users the actor may see: SuperAdmin all, NOC and supervisors their region, an FOC itself.
    pub fn user_scope(&self) -> UserScope {
        match self.role {
            Role::SuperAdmin => UserScope::All,
            Role::NOC | Role::FOCSupervisor => UserScope::Region(self.region),
            Role::FOC => UserScope::OnlySelf(self.id),
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
mod tests {
    use super::*;

    fn actor(role: Role, region: Region) -> Actor {
        Actor { id: Uuid::now_v7(), role, region, name: "x".into() }
    }

    #[test]
    fn each_role_sees_the_users_of_the_role_table() {
        let other = Uuid::now_v7();
        let cases = [
            (Role::SuperAdmin, Region::East, true),
            (Role::NOC, Region::West, true),
            (Role::NOC, Region::East, false),
            (Role::FOCSupervisor, Region::West, true),
            (Role::FOCSupervisor, Region::Central, false),
            (Role::FOC, Region::West, false),
        ];
        for (role, target_region, visible) in cases {
            let a = actor(role, Region::West);
            assert_eq!(a.user_scope().contains(other, target_region), visible, "{role} -> {target_region}");
        }
        let foc = actor(Role::FOC, Region::West);
        assert!(foc.user_scope().contains(foc.id, Region::West), "an FOC sees itself");
    }

    #[test]
    fn only_a_super_admin_manages_users_and_master_data() {
        for role in Role::ALL {
            let allowed = actor(*role, Region::West).require_super_admin().is_ok();
            assert_eq!(allowed, *role == Role::SuperAdmin, "{role}");
        }
    }
}
