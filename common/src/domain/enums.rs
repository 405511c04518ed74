//! The contract's enums. Each is stored as its name (TEXT, see `db/codec.rs`) and travels as its
//! name in JSON.

/// Declares a fieldless enum whose wire and storage form is the variant name.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $(stringify!($variant) => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} `{}`",
                        stringify!($name),
                        other
                    )),
                }
            }
        }
    };
}

string_enum!(
    /// A user's role; decides what the user may see and do.
    Role { SuperAdmin, NOC, FOC, FOCSupervisor }
);

string_enum!(
    /// The operating regions.
    Region { West, Central, East }
);

string_enum!(
    /// Where a person is told things: the user's email address, or the user's linked Telegram
    /// chat.
    Channel { Mail, Telegram }
);

string_enum!(
    /// What a person may be told, each of which a user may turn off: a new open ticket of the
    /// region, an assignment, the NOC's verdict on a request, a ticket nobody accepted, an SLA
    /// about to run out, an SLA run out, a request waiting for the NOC.
    NoticeKind { NewTicket, Assignment, Verdict, Unaccepted, SlaWarning, SlaBreached, ValidationWaiting }
);

impl Region {
    /// The region's clock (WIB, WITA, WIT): what its people read the time by.
    pub fn utc_offset(self) -> chrono::FixedOffset {
        let hours = match self {
            Region::West => 7,
            Region::Central => 8,
            Region::East => 9,
        };
        chrono::FixedOffset::east_opt(hours * 3600).expect("a whole-hour offset")
    }

    /// The name of the region's clock.
    pub fn clock_name(self) -> &'static str {
        match self {
            Region::West => "WIB",
            Region::Central => "WITA",
            Region::East => "WIT",
        }
    }
}

string_enum!(
    /// Where in the fibre topology an outage sits, lowest first.
    OutageLevel { Splitter, MainSplitter, Pop }
);

string_enum!(
    /// What kind of fault an indication describes.
    IndicationCategory { FiberCut, Bending, Device, Electricity }
);

string_enum!(
    /// Lifecycle of a client's service.
    ClientStatus { Active, Deactive, Dismantle }
);

string_enum!(
    /// The customer type; it sets the SLA hours of the client's tickets.
    CustomerType { Dedicated, Broadband }
);

string_enum!(
    /// Which part of the network a ticket concerns.
    NetworkSegment { Access, Fishbone, Backbone }
);

string_enum!(
    /// The service a client buys.
    ServiceType { Interconnection, FTTX }
);

string_enum!(
    /// Unit of a client's bandwidth.
    BandwidthUnit { Gbps, Mbps }
);

string_enum!(
    /// A ticket's status: the ticket statuses and the task statuses of the contract in one set,
    /// since `latestStatus` and a log's `statusName` take either.
    Status {
        Open, Draft, Accepted, OnTheWay, CheckedIn, OnGoing, Closed, Canceled, Pending,
        Checking, PullingCable, Jointing, Tidying, LinkChecking, Finishing,
    }
);

string_enum!(
    /// Trouble (something broke) or planned maintenance.
    TicketType { Trouble, Maintenance }
);

string_enum!(
    /// Where a ticket came from.
    TicketSource { Whatsapp, Telegram, Email, Phone, DeviceLog }
);

string_enum!(
    /// How the apps draw a log entry.
    CardType { SimpleStatus, RequestValidationAction, RequestValidationDone, FinishingAction, ReassignAction }
);

string_enum!(
    /// Whether a ticket is within its SLA.
    SlaType { UnderSla, OverSla, NonSla }
);

string_enum!(
    /// Why work is paused.
    PendingCategory { CustomerUnavailable, AccessDenied, WaitingForMaterial, Weather, ThirdPartyWork, Other }
);

string_enum!(
    /// Why a ticket is canceled.
    CancelCategory { Duplicate, CustomerRequest, NoFaultFound, WrongReport, Other }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), *role);
        }
        assert!("noc".parse::<Role>().is_err(), "names are case sensitive");
    }

    #[test]
    fn serde_uses_the_contract_names() {
        assert_eq!(serde_json::to_string(&Role::FOCSupervisor).unwrap(), "\"FOCSupervisor\"");
        assert_eq!(serde_json::from_str::<Region>("\"East\"").unwrap(), Region::East);
    }
}
