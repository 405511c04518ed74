//! Outages: when customers behind one splitter, main splitter or POP report the same fault, the
//! reports become one outage the field works once. The rule here is pure: given a new report,
//! the region's other open reports not yet accepted under its network elements, and the open
//! outages, it says whether the report stays alone, joins an outage, or opens one (moving up a
//! level and merging the outages below when the reports span enough elements of the level).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// Where in the fibre topology an outage sits, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
pub enum OutageLevel {
    Splitter,
    MainSplitter,
    Pop,
}

/// A network element: a splitter or main splitter by id, a POP by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Element {
    Splitter(Uuid),
    MainSplitter(Uuid),
    Pop(String),
}

impl Element {
    pub fn level(&self) -> OutageLevel {
        match self {
            Element::Splitter(_) => OutageLevel::Splitter,
            Element::MainSplitter(_) => OutageLevel::MainSplitter,
            Element::Pop(_) => OutageLevel::Pop,
        }
    }
}

/// Where a customer hangs: its POP, main splitter and splitter, as far as they are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    pub pop: Option<String>,
    pub main_splitter: Option<Uuid>,
    pub splitter: Option<Uuid>,
}

impl Topology {
    /// The element of `level` above the customer.
    pub fn at(&self, level: OutageLevel) -> Option<Element> {
        match level {
            OutageLevel::Splitter => self.splitter.map(Element::Splitter),
            OutageLevel::MainSplitter => self.main_splitter.map(Element::MainSplitter),
            OutageLevel::Pop => self.pop.clone().filter(|p| !p.trim().is_empty()).map(Element::Pop),
        }
    }

    /// Whether the customer hangs under `e`.
    pub fn under(&self, e: &Element) -> bool {
        self.at(e.level()).as_ref() == Some(e)
    }
}

/// An open ticket nobody accepted yet, from a customer under the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub ticket: Uuid,
    /// When it was published.
    pub at: DateTime<Utc>,
    pub under: Topology,
    /// The open outage it is linked to.
    pub outage: Option<Uuid>,
}

/// An open outage and its element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOutage {
    pub id: Uuid,
    pub element: Element,
}

/// `CGS_OUTAGE_THRESHOLD` and `CGS_OUTAGE_WINDOW_MINUTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutageRule {
    /// Reports under one element that make an outage; elements below one that move it up.
    pub threshold: usize,
    pub window: Duration,
}

/// What becomes of a new report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A ticket of its own.
    Alone,
    /// Linked to this open outage.
    Join(Uuid),
    /// A new outage at `element`, with these reports (the new one among them) as its children;
    /// the outages of `merge` (below it) close into it, their children moving over.
    Open { element: Element, members: Vec<Uuid>, merge: Vec<Uuid> },
}

/// The level below `level`, whose elements an outage at `level` must span.
fn below(level: OutageLevel) -> Option<OutageLevel> {
    match level {
        OutageLevel::Splitter => None,
        OutageLevel::MainSplitter => Some(OutageLevel::Splitter),
        OutageLevel::Pop => Some(OutageLevel::MainSplitter),
    }
}

/// Decides what becomes of `new` given the region's `others` (open reports not yet accepted,
/// linked or not) and its `outages`. From the highest level down: an open outage at the
/// report's element takes it; else, when the reports under the element (those linked to an
/// outage whenever they came, the others within the window) reach the threshold (at a
/// splitter), or span the threshold of elements of the level below (at a main splitter or a
/// POP), an outage opens there with them all. A report without topology stays alone.
pub fn decide(new: &Report, others: &[Report], outages: &[OpenOutage], rule: OutageRule) -> Decision {
    let since = new.at - rule.window;
    let recent: Vec<&Report> = others
        .iter()
        .filter(|r| r.ticket != new.ticket && (r.outage.is_some() || r.at >= since))
        .chain(std::iter::once(new))
        .collect();
    for level in [OutageLevel::Pop, OutageLevel::MainSplitter, OutageLevel::Splitter] {
        let Some(element) = new.under.at(level) else { continue };
        if let Some(o) = outages.iter().find(|o| o.element == element) {
            return Decision::Join(o.id);
        }
        let under: Vec<&Report> = recent.iter().copied().filter(|r| r.under.under(&element)).collect();
        let enough = match below(level) {
            None => under.len() >= rule.threshold.max(1),
            Some(lower) => {
                let mut spanned: Vec<Element> = under.iter().filter_map(|r| r.under.at(lower)).collect();
                spanned.sort_by_key(|e| format!("{e:?}"));
                spanned.dedup();
                spanned.len() >= rule.threshold.max(1)
            }
        };
        if enough {
            let members = under.iter().map(|r| r.ticket).collect();
            let mut merge: Vec<Uuid> = under.iter().filter_map(|r| r.outage).collect();
            merge.sort();
            merge.dedup();
            return Decision::Open { element, members, merge };
        }
    }
    Decision::Alone
}

#[cfg(test)]
#[path = "outage_tests.rs"]
mod tests;
