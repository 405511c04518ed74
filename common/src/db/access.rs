//! The ticket read rule (`domain::access`) in SQL, with the caller's region and id bound.

use uuid::Uuid;

use super::sql::Sql;
use crate::domain::{
    Region, Role,
    access::{Cond, TicketScope, ticket_read_rule},
};

/// The read rule of `scope` over the ticket columns of table alias `t`.
pub(crate) fn scope_sql(scope: TicketScope, t: &str) -> Sql {
    let (role, region, me) = scope_parts(scope);
    rule_sql(&ticket_read_rule(role), t, region, me)
}

/// The role whose rule a scope applies, with the caller's region and id.
pub(crate) fn scope_parts(scope: TicketScope) -> (Role, Option<Region>, Option<Uuid>) {
    match scope {
        TicketScope::All => (Role::SuperAdmin, None, None),
        TicketScope::Region(r) => (Role::NOC, Some(r), None),
        TicketScope::Supervisor { region, me } => (Role::FOCSupervisor, Some(region), Some(me)),
        TicketScope::Technician { region, me } => (Role::FOC, Some(region), Some(me)),
    }
}

/// `rule` over the ticket columns of table alias `t` (`region`, `status`, `foc_id`) for a caller
/// in `region` with id `me`. Statuses are enum names, never input.
pub(crate) fn rule_sql(rule: &Cond, t: &str, region: Option<Region>, me: Option<Uuid>) -> Sql {
    let mut sql = Sql::default();
    push_rule(&mut sql, rule, t, region, me);
    sql
}

fn push_rule(sql: &mut Sql, rule: &Cond, t: &str, region: Option<Region>, me: Option<Uuid>) {
    let mut join = |cs: &[Cond], op: &str| {
        sql.push("(");
        for (i, c) in cs.iter().enumerate() {
            if i > 0 {
                sql.push(op);
            }
            push_rule(sql, c, t, region, me);
        }
        sql.push(")");
    };
    match rule {
        Cond::All(cs) => join(cs, " AND "),
        Cond::Any(cs) => join(cs, " OR "),
        Cond::Always => {
            sql.push("TRUE");
        }
        Cond::InMyRegion => {
            sql.push(format!("{t}.region = ")).bind(region);
        }
        Cond::StatusIs(x) => {
            sql.push(format!("{t}.status = '{x}'"));
        }
        Cond::StatusIsNot(x) => {
            sql.push(format!("{t}.status <> '{x}'"));
        }
        Cond::Assigned => {
            sql.push(format!("{t}.foc_id IS NOT NULL"));
        }
        Cond::AssignedToMe => {
            sql.push(format!("{t}.foc_id = ")).bind(me);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, access::ticket_read_rule};

    #[test]
    fn the_rule_renders_to_sql_with_the_callers_values_bound() {
        let me = Uuid::nil();
        let sql = rule_sql(&ticket_read_rule(Role::FOC), "t", Some(Region::West), Some(me));
        assert_eq!(sql.text_for_postgres(), "((t.region = $1 AND t.status = 'Open') OR t.foc_id = $2)");
        assert_eq!(
            rule_sql(&ticket_read_rule(Role::SuperAdmin), "e", None, None).text_for_postgres(),
            "TRUE"
        );
        assert_eq!(
            rule_sql(&ticket_read_rule(Role::NOC), "e", Some(Region::East), None).text_for_postgres(),
            "e.region = $1"
        );
    }
}
