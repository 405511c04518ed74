//! How the domain's enums are stored: as their names, in TEXT columns, on both backends.

use super::sql::Arg;
use crate::domain::{
    BandwidthUnit, CancelCategory, CardType, ClientStatus, CustomerType, IndicationCategory, NetworkSegment,
    OutageLevel, PendingCategory, Region, Role, ServiceType, SlaType, Status, TicketSource, TicketType,
};

macro_rules! stored_by_name {
    ($($name:ident),+ $(,)?) => {$(
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'static str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'static str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                s.parse().map_err(Into::into)
            }
        }

        impl From<$name> for Arg {
            fn from(v: $name) -> Self {
                Arg::Text(Some(v.as_str().to_owned()))
            }
        }

        impl From<Option<$name>> for Arg {
            fn from(v: Option<$name>) -> Self {
                Arg::Text(v.map(|v| v.as_str().to_owned()))
            }
        }
    )+};
}

stored_by_name!(
    Role,
    Region,
    IndicationCategory,
    ClientStatus,
    CustomerType,
    NetworkSegment,
    ServiceType,
    BandwidthUnit,
    Status,
    TicketType,
    TicketSource,
    CardType,
    SlaType,
    PendingCategory,
    CancelCategory,
    OutageLevel,
);
