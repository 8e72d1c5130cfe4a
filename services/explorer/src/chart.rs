//! The chart of difficulty and block interval over recent blocks, drawn by plotters as SVG.

use mycoin_core::Header;
use mycoin_core::pow::{work_for_target, work_to_string};
use plotters::prelude::*;

use crate::i18n::Lang;

/// Blocks the chart covers, the tip's and those before it.
pub const CHART_BLOCKS: u32 = 120;

/// One block of the chart: its height, difficulty (expected hashes at its target) and the
/// seconds since the block before (none for genesis).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub height: u32,
    pub difficulty: f64,
    pub interval: Option<f64>,
}

/// The points of consecutive `headers`, the first at height `from`; `before` is the header
/// before the first, when there is one (for its interval).
pub fn points(from: u32, before: Option<&Header>, headers: &[Header]) -> Vec<Point> {
    let mut previous = before.copied();
    headers
        .iter()
        .zip(from..)
        .map(|(header, height)| {
            let difficulty = header
                .bits
                .target()
                .ok()
                .and_then(|target| work_to_string(work_for_target(target)).parse::<f64>().ok())
                .unwrap_or(0.0);
            let interval = previous.map(|p| f64::from(header.time) - f64::from(p.time));
            previous = Some(*header);
            Point {
                height,
                difficulty,
                interval,
            }
        })
        .collect()
}

/// The two charts, one above the other, as one SVG document.
pub fn draw(lang: Lang, points: &[Point]) -> Result<String, String> {
    let t = lang.text();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, bottom) = root.split_vertically(280);
        let first = points.first().map_or(0, |p| p.height);
        let last = points.last().map_or(1, |p| p.height).max(first + 1);

        let max_difficulty = points.iter().map(|p| p.difficulty).fold(1.0_f64, f64::max);
        line_chart(
            &top,
            t.difficulty,
            t.height,
            (first..last, 0.0..max_difficulty * 1.1),
            points.iter().map(|p| (p.height, p.difficulty)).collect(),
            &BLUE,
        )?;

        let intervals: Vec<(u32, f64)> = points
            .iter()
            .filter_map(|p| p.interval.map(|i| (p.height, i)))
            .collect();
        let max_interval = intervals.iter().map(|p| p.1).fold(1.0_f64, f64::max);
        let min_interval = intervals.iter().map(|p| p.1).fold(0.0_f64, f64::min);
        line_chart(
            &bottom,
            &format!("{} ({})", t.interval, t.seconds),
            t.height,
            (first..last, min_interval..max_interval * 1.1),
            intervals,
            &RED,
        )?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One line over heights in `area`, captioned, with its axes and mesh: what the two charts
/// share.
fn line_chart(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    x_desc: &str,
    (x, y): (std::ops::Range<u32>, std::ops::Range<f64>),
    line: Vec<(u32, f64)>,
    color: &RGBColor,
) -> Result<(), String> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(line, color))
        .map_err(|e| e.to_string())?;
    Ok(())
}
