//! Which cases a reader asks for: statuses, categories, tiers and severities, as lists, tiles
//! and analyses filter them.

use crate::model::{IncidentSeverity, IncidentStatus, IncidentTier};

/// Status, category, tier and severity filters on incidents, each a comma list (`status=open` meaning
/// every open status), in canonical form (sorted, without repeats) so that equal filters
/// compare equal and key a cache alike.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub struct IncidentFilters {
    pub statuses: Option<Vec<String>>,
    pub open_only: bool,
    pub categories: Option<Vec<String>>,
    pub tiers: Option<Vec<String>>,
    pub severities: Option<Vec<String>>,
}

impl IncidentFilters {
    pub fn parse(
        status: Option<String>,
        category: Option<String>,
        tier: Option<String>,
        severity: Option<String>,
    ) -> Result<Self, String> {
        let (statuses, open_only) = match status.as_deref() {
            Some("open") => (None, true),
            _ => (
                comma_list(status, &|s| s.parse::<IncidentStatus>().is_ok(), "status")?,
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
        let tiers = comma_list(tier, &|t| t.parse::<IncidentTier>().is_ok(), "tier")?;
        let severities = comma_list(
            severity,
            &|s| s.parse::<IncidentSeverity>().is_ok(),
            "severity",
        )?;
        Ok(Self {
            statuses,
            open_only,
            categories,
            tiers,
            severities,
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
