//! The access rule's tests: scopes, the read rule, the generated `firestore.rules`.

use super::*;

fn actor(role: Role, region: Region) -> Actor {
    Actor { id: Uuid::now_v7(), role, region, name: "x".into() }
}

#[test]
fn the_noc_writes_tickets_of_its_region_and_a_superadmin_of_any() {
    let (west, east) = (Region::West, Region::East);
    let admin = actor(Role::SuperAdmin, west);
    assert!(admin.may_write_tickets_in(east).is_ok());
    assert_eq!(admin.home_region_for_tickets(), None, "a SuperAdmin names the region");
    let noc = actor(Role::NOC, west);
    assert!(noc.may_write_tickets_in(west).is_ok());
    assert!(matches!(noc.may_write_tickets_in(east), Err(DomainError::Forbidden(_))));
    assert_eq!(noc.home_region_for_tickets(), Some(west));
    for role in [Role::FOC, Role::FOCSupervisor] {
        let field = actor(role, west);
        assert!(
            matches!(field.may_write_tickets(), Err(DomainError::Forbidden(m)) if m.contains("only the NOC"))
        );
        assert!(field.may_write_tickets_in(west).is_err());
    }
}

#[test]
fn a_token_reads_firestore_only_while_its_claims_match_the_access_document() {
    let doc = AccessDocument { active: true, role: Role::FOC, region: Region::West };
    assert!(doc.admits(Role::FOC, Region::West));
    assert!(!doc.admits(Role::NOC, Region::West), "a token from before a role change");
    assert!(!doc.admits(Role::FOC, Region::East), "a token from before a move");
    assert!(!AccessDocument { active: false, ..doc }.admits(Role::FOC, Region::West), "deactivated");
    // Every collection an app reads asks for it in the rules.
    let rules = firestore_rules();
    for collection in ["tickets/{ticketId}", "ticketcount/{month}"] {
        let block = rules.split(&format!("match /{collection} {{")).nth(1).unwrap();
        let read = block.lines().find(|l| l.contains("allow read")).unwrap();
        assert!(read.contains("request.auth != null && hasAccess()"), "{collection}: {read}");
    }
}

#[test]
fn clients_are_seen_by_region_but_by_the_super_admin() {
    for role in Role::ALL {
        let scope = actor(*role, Region::West).client_scope();
        assert!(scope.sees(Region::West), "{role}");
        assert_eq!(scope.sees(Region::East), *role == Role::SuperAdmin, "{role}");
    }
}

#[test]
fn only_the_admin_and_noc_rules_read_the_region_alone() {
    let region_only: Vec<bool> = Role::ALL.iter().map(|r| ticket_read_rule(*r).reads_region_only()).collect();
    let expected: Vec<bool> = Role::ALL.iter().map(|r| matches!(r, Role::SuperAdmin | Role::NOC)).collect();
    assert_eq!(region_only, expected);
    assert!(!Cond::All(vec![Cond::InMyRegion, Cond::StatusIs(Status::Open)]).reads_region_only());
    assert!(Cond::Any(vec![Cond::InMyRegion, Cond::Always]).reads_region_only());
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
fn ticket_visibility_follows_the_role_table() {
    use Status::*;
    let me = Uuid::now_v7();
    let other = Some(Uuid::now_v7());
    let w = Region::West;
    let e = Region::East;
    // (scope, region, status, foc, visible)
    let sup = TicketScope::Supervisor { region: w, me };
    let foc = TicketScope::Technician { region: w, me };
    let cases = [
        (TicketScope::All, e, Draft, None, true),
        (TicketScope::Region(w), w, Draft, None, true),
        (TicketScope::Region(w), e, Open, None, false),
        (sup, w, Open, None, true),
        (sup, w, Draft, None, false),
        (sup, e, Open, None, false),
        (sup, w, Jointing, other, true),
        (sup, w, Pending, other, true),
        (sup, w, Closed, other, false),
        (sup, e, Closed, Some(me), true),
        (foc, w, Open, None, true),
        (foc, w, Draft, None, false),
        (foc, e, Open, None, false),
        (foc, w, Accepted, other, false),
        (foc, w, Closed, Some(me), true),
        (foc, e, OnGoing, Some(me), true),
    ];
    for (scope, region, status, f, visible) in cases {
        assert_eq!(scope.sees(region, status, f), visible, "{scope:?} {region} {status} {f:?}");
    }
}

#[test]
fn the_committed_firestore_rules_are_the_generated_ones() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../firestore.rules");
    if std::env::var("UPDATE_FIRESTORE_RULES").is_ok() {
        // CI checks the committed file; it never rewrites it into agreement.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "UPDATE_FIRESTORE_RULES is refused when CI=true"
        );
        std::fs::write(path, firestore_rules()).unwrap();
    }
    let committed = std::fs::read_to_string(path).expect("firestore.rules exists");
    assert!(
        committed == firestore_rules(),
        "firestore.rules is stale: run `UPDATE_FIRESTORE_RULES=1 cargo nextest run -E 'test(firestore_rules)'`"
    );
    assert!(committed.contains("allow write: if false;"));
    assert!(committed.contains("request.auth.token.role == 'FOC' && ((resource.data.region == request.auth.token.region && resource.data.latestStatus == 'Open') || (resource.data.foc != null && resource.data.foc.id == request.auth.uid))"));
}

#[test]
fn only_a_super_admin_manages_users_and_master_data() {
    for role in Role::ALL {
        let allowed = actor(*role, Region::West).require_super_admin().is_ok();
        assert_eq!(allowed, *role == Role::SuperAdmin, "{role}");
    }
}
