//! Which cases a reader asks for: statuses, categories and tiers, as lists and tiles filter
//! them.

/// Every incident status, in lifecycle order (the PostgreSQL enum `incident_status`).
pub const INCIDENT_STATUSES: [&str; 8] = [
    "reported",
    "assigned",
    "accepted",
    "in_progress",
    "resolved",
    "closed",
    "rejected",
    "duplicate",
];
/// Every tier, lowest first (the PostgreSQL enum `incident_tier`).
pub const INCIDENT_TIERS: [&str; 4] = ["village", "township", "county", "city"];

/// Status, category and tier filters on incidents, each a comma list (`status=open` meaning
/// every open status), in canonical form (sorted, without repeats) so that equal filters
/// compare equal and key a cache alike.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub struct IncidentFilters {
    pub statuses: Option<Vec<String>>,
    pub open_only: bool,
    pub categories: Option<Vec<String>>,
    pub tiers: Option<Vec<String>>,
}

impl IncidentFilters {
    pub fn parse(
        status: Option<String>,
        category: Option<String>,
        tier: Option<String>,
    ) -> Result<Self, String> {
        let (statuses, open_only) = match status.as_deref() {
            Some("open") => (None, true),
            _ => (
                comma_list(status, &|s| INCIDENT_STATUSES.contains(&s), "status")?,
                false,
            ),
        };
        let categories = comma_list(
            category,
            &|c| {
                !c.is_empty()
                    && c.len() <= 40
                    && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            },
            "category",
        )?;
        let tiers = comma_list(tier, &|t| INCIDENT_TIERS.contains(&t), "tier")?;
        Ok(Self {
            statuses,
            open_only,
            categories,
            tiers,
        })
    }
}

fn comma_list(
    text: Option<String>,
    allowed: &dyn Fn(&str) -> bool,
    what: &str,
) -> Result<Option<Vec<String>>, String> {
    text.map(|t| {
        let mut items: Vec<String> = t.split(',').map(|s| s.trim().to_owned()).collect();
        if let Some(bad) = items.iter().find(|i| !allowed(i)) {
            return Err(format!("unknown {what} `{bad}`"));
        }
        items.sort();
        items.dedup();
        Ok(items)
    })
    .transpose()
}
