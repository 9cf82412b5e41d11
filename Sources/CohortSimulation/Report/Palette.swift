/// Colours for chart series: the Okabe–Ito colour-blind-safe palette, ordered for contrast on
/// white (its yellow last), then repeated.
enum Palette {
    static let colours = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]

    /// The colour of series `index`.
    static func colour(_ index: Int) -> String { colours[((index % colours.count) + colours.count) % colours.count] }

    /// Whether series `index` reuses a colour of an earlier series (the palette has wrapped).
    static func repeats(_ index: Int) -> Bool { index >= colours.count }

    /// A dash pattern that tells apart lines sharing a colour once the palette repeats: solid,
    /// then dotted, then dash-dot (plain dashes are kept for reference lines).
    static func dash(_ index: Int) -> String? {
        switch (index / colours.count) % 3 {
        case 0: return nil
        case 1: return "1.5 3.5"
        default: return "9 3 2 3"
        }
    }

    /// Axis, grid and text greys.
    static let axis = "#444444"
    static let grid = "#E3E3E3"
    static let text = "#222222"
    static let muted = "#666666"
}
