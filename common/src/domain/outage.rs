//! Outages: when customers behind one splitter, main splitter or POP report the same fault, the
//! reports become one outage the field works once. The rule here is pure: given a new report,
//! the region's other open reports not yet accepted under its network elements, and the open
//! outages, it says whether the report stays alone, joins an outage, or opens one (moving up a
//! level and merging the outages below when the reports span enough elements of the level).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

pub use super::OutageLevel;

/// A network element: a splitter or main splitter by id, a POP by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Element {
    Splitter(Uuid),
    MainSplitter(Uuid),
    Pop(String),
}

impl Element {
    /// The element's key in `region`, unique among elements: `Splitter:<id>`,
    /// `MainSplitter:<id>`, `Pop:<region>:<name>`.
    pub fn key(&self, region: super::Region) -> String {
        match self {
            Element::Splitter(id) => format!("Splitter:{id}"),
            Element::MainSplitter(id) => format!("MainSplitter:{id}"),
            Element::Pop(name) => format!("Pop:{region}:{}", name.trim()),
        }
    }

    pub fn level(&self) -> OutageLevel {
        match self {
            Element::Splitter(_) => OutageLevel::Splitter,
            Element::MainSplitter(_) => OutageLevel::MainSplitter,
            Element::Pop(_) => OutageLevel::Pop,
        }
    }
}

impl OutageLevel {
    /// The level in words: `splitter`, `main splitter`, `POP`.
    pub fn words(self) -> &'static str {
        match self {
            OutageLevel::Splitter => "splitter",
            OutageLevel::MainSplitter => "main splitter",
            OutageLevel::Pop => "POP",
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
    /// The customer: reports of one customer count once.
    pub client: Uuid,
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
    /// Customers under one splitter that make an outage; splitters (main splitters) below one
    /// element whose outages move it up.
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

/// The level above `level`.
fn above(level: OutageLevel) -> Option<OutageLevel> {
    match level {
        OutageLevel::Splitter => Some(OutageLevel::MainSplitter),
        OutageLevel::MainSplitter => Some(OutageLevel::Pop),
        OutageLevel::Pop => None,
    }
}

/// How many distinct values `key` gives over `reports`.
fn distinct<T: Ord>(reports: &[&Report], key: impl Fn(&Report) -> Option<T>) -> usize {
    let mut seen: Vec<T> = reports.iter().filter_map(|r| key(r)).collect();
    seen.sort();
    seen.dedup();
    seen.len()
}

/// Decides what becomes of `new` given the region's `others` (open reports not yet accepted,
/// linked or not, under the new report's elements) and the open `outages` of its elements.
///
/// An open outage at the report's POP, main splitter or splitter (the highest first) takes it.
/// Else, when the reports under its splitter (those within the window, and those linked to an
/// outage whenever they came) come from `threshold` customers, an outage opens at the splitter
/// with them all. It moves up to the main splitter when the reports linked there (the new
/// outage's among them) span `threshold` splitters, and to the POP when they span `threshold`
/// main splitters: the outages below merge into it. A report without a splitter stays alone.
pub fn decide(new: &Report, others: &[Report], outages: &[OpenOutage], rule: OutageRule) -> Decision {
    let threshold = rule.threshold.max(1);
    for level in [OutageLevel::Pop, OutageLevel::MainSplitter, OutageLevel::Splitter] {
        if let Some(element) = new.under.at(level)
            && let Some(o) = outages.iter().find(|o| o.element == element)
        {
            return Decision::Join(o.id);
        }
    }
    let since = new.at - rule.window;
    let all: Vec<&Report> =
        others.iter().filter(|r| r.ticket != new.ticket).chain(std::iter::once(new)).collect();
    let Some(mut element) = new.under.at(OutageLevel::Splitter) else { return Decision::Alone };
    let mut members: Vec<&Report> = all
        .iter()
        .copied()
        .filter(|r| r.under.under(&element) && (r.outage.is_some() || r.at >= since))
        .collect();
    if distinct(&members, |r| Some(r.client)) < threshold {
        return Decision::Alone;
    }
    let mut level = OutageLevel::Splitter;
    while let Some(up) = above(level) {
        let Some(higher) = new.under.at(up) else { break };
        let mut linked: Vec<&Report> =
            all.iter().copied().filter(|r| r.outage.is_some() && r.under.under(&higher)).collect();
        linked.extend(members.iter().copied().filter(|m| m.outage.is_none()));
        linked.sort_by_key(|r| r.ticket);
        linked.dedup_by_key(|r| r.ticket);
        if distinct(&linked, |r| r.under.at(level)) >= threshold {
            members = linked;
            element = higher;
        }
        level = up;
    }
    let mut merge: Vec<Uuid> = members.iter().filter_map(|r| r.outage).collect();
    merge.sort();
    merge.dedup();
    let mut members: Vec<Uuid> = members.iter().map(|r| r.ticket).collect();
    members.sort();
    Decision::Open { element, members, merge }
}

#[cfg(test)]
#[path = "outage_tests.rs"]
mod tests;
