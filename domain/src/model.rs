//! Domain vocabulary shared by the API, the importer and the demo: each enum mirrors a
//! PostgreSQL enum type of the same name.

use serde::{Deserialize, Serialize};

/// city (市) → county/district (县区) → township/street (乡镇/街道) → village/community (村/社区).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "admin_level", rename_all = "snake_case")]
pub enum AdminLevel {
    City,
    County,
    Township,
    Village,
}

impl AdminLevel {
    pub const ALL: [AdminLevel; 4] = [Self::City, Self::County, Self::Township, Self::Village];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::City => "city",
            Self::County => "county",
            Self::Township => "township",
            Self::Village => "village",
        }
    }

    /// The level a unit of this level hangs under.
    pub fn parent(self) -> Option<AdminLevel> {
        match self {
            Self::City => None,
            Self::County => Some(Self::City),
            Self::Township => Some(Self::County),
            Self::Village => Some(Self::Township),
        }
    }

    /// Digits of the official statistics-bureau code at this level.
    pub fn code_len(self) -> usize {
        match self {
            Self::City | Self::County => 6,
            Self::Township => 9,
            Self::Village => 12,
        }
    }

    /// The parent's official code, derived from the child's (the codes nest by prefix:
    /// village `530402001001` → township `530402001` → county `530402` → city `530400`).
    pub fn parent_code(self, code: &str) -> Option<String> {
        match self {
            Self::City => None,
            Self::County => code.get(..4).map(|p| format!("{p}00")),
            Self::Township => code.get(..6).map(str::to_owned),
            Self::Village => code.get(..9).map(str::to_owned),
        }
    }

    /// True when `code` has this level's form.
    pub fn is_valid_code(self, code: &str) -> bool {
        code.len() == self.code_len() && code.bytes().all(|b| b.is_ascii_digit())
    }
}

impl std::str::FromStr for AdminLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                format!("unknown level `{s}`: expected city, county, township or village")
            })
    }
}

/// Kinds of facility a case may be routed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "facility_kind", rename_all = "snake_case")]
pub enum FacilityKind {
    /// 综治维稳信访中心: the township's one-stop reception.
    GovernanceCentre,
    /// 为民服务站.
    ServiceStation,
    /// 流动人口综合服务站.
    MigrantServiceStation,
    /// 调解组织.
    MediationOrganisation,
    /// 派出所.
    PoliceStation,
    School,
    Hospital,
    /// 过渡性安置基地.
    ResettlementBase,
}

impl FacilityKind {
    pub const ALL: [FacilityKind; 8] = [
        Self::GovernanceCentre,
        Self::ServiceStation,
        Self::MigrantServiceStation,
        Self::MediationOrganisation,
        Self::PoliceStation,
        Self::School,
        Self::Hospital,
        Self::ResettlementBase,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GovernanceCentre => "governance_centre",
            Self::ServiceStation => "service_station",
            Self::MigrantServiceStation => "migrant_service_station",
            Self::MediationOrganisation => "mediation_organisation",
            Self::PoliceStation => "police_station",
            Self::School => "school",
            Self::Hospital => "hospital",
            Self::ResettlementBase => "resettlement_base",
        }
    }
}

/// Declares a fieldless enum mirroring a PostgreSQL enum: serde and sqlx in snake_case,
/// `ALL` in declaration order, `as_str`, and `FromStr` naming the choices on error.
macro_rules! pg_enum {
    ($(#[$meta:meta])* $name:ident = $pg:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = $pg, rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let choices: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} `{s}`: expected one of {}", $pg, choices.join(", "))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// The open incident statuses as an SQL list, `('reported', …)`, for `status IN`: a literal,
/// so that `concat!` and `format!` take it. Not an SQL function: the planner uses the partial
/// index of open cases (`incident_open_geom_idx`, whose predicate is this list) only when it
/// sees the list in the query. [`IncidentStatus::OPEN`] is the same set in Rust; the test
/// below and `tests/schema.rs` keep the two and the database's enum in step.
#[macro_export]
#[doc(hidden)]
macro_rules! __open_statuses {
    () => {
        "('reported', 'assigned', 'accepted', 'in_progress')"
    };
}
#[doc(inline)]
pub use crate::__open_statuses as open_statuses;

pg_enum! {
    /// Where a case is in its life. Open: reported, assigned, accepted, in progress.
    IncidentStatus = "incident_status" {
        Reported => "reported",
        Assigned => "assigned",
        Accepted => "accepted",
        InProgress => "in_progress",
        Resolved => "resolved",
        Closed => "closed",
        Rejected => "rejected",
        Duplicate => "duplicate",
    }
}

impl IncidentStatus {
    /// The statuses of a case still being worked on; [`open_statuses!`] says the same in SQL.
    pub const OPEN: &'static [IncidentStatus] = &[
        Self::Reported,
        Self::Assigned,
        Self::Accepted,
        Self::InProgress,
    ];

    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }
}

pg_enum! {
    /// The level handling a case: 小事不出村、大事不出乡镇、难事不出县 — and the city above.
    IncidentTier = "incident_tier" {
        Village => "village",
        Township => "township",
        County => "county",
        City => "city",
    }
}

impl IncidentTier {
    /// The tier a case escalates to; none above the city (矛盾不上交).
    pub fn next(self) -> Option<IncidentTier> {
        match self {
            Self::Village => Some(Self::Township),
            Self::Township => Some(Self::County),
            Self::County => Some(Self::City),
            Self::City => None,
        }
    }
}

pg_enum! {
    IncidentSeverity = "incident_severity" {
        Minor => "minor",
        Moderate => "moderate",
        Major => "major",
        Critical => "critical",
    }
}

pg_enum! {
    /// How an incident's place is known.
    LocationMethod = "location_method" {
        /// The reporter's device (GPS).
        Device => "device",
        /// Matched in the address register.
        Geocoded => "geocoded",
        /// Placed on the map by a dispatcher.
        Manual => "manual",
        /// Only its administrative unit is known; it waits to be placed.
        Area => "area",
    }
}

pg_enum! {
    IncidentEventKind = "incident_event_kind" {
        Reported => "reported",
        Assigned => "assigned",
        Accepted => "accepted",
        Started => "started",
        Escalated => "escalated",
        Resolved => "resolved",
        Closed => "closed",
        Rejected => "rejected",
        MarkedDuplicate => "marked_duplicate",
        Reassigned => "reassigned",
        Note => "note",
        Located => "located",
        LeaderAssigned => "leader_assigned",
        Reopened => "reopened",
        /// The assigned worker gave the case back; it waits for another.
        Declined => "declined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_open_list_is_the_rust_open_set() {
        let listed: Vec<String> = IncidentStatus::OPEN
            .iter()
            .map(|s| format!("'{s}'"))
            .collect();
        assert_eq!(open_statuses!(), format!("({})", listed.join(", ")));
        for status in IncidentStatus::ALL {
            assert_eq!(
                status.is_open(),
                open_statuses!().contains(&format!("'{status}'")),
                "{status}"
            );
        }
    }
}
