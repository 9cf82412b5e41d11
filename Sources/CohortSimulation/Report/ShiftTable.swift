/// The per-site shift statistics shown beside the scatter: MMD and proxy A-distance to the
/// source, and the mean feature norm.
enum ShiftTable {
    static func html(_ shift: ShiftView) -> String {
        var table = HTMLTable(header: [.text("Site"), .number("MMD vs source"), .number("Proxy A-distance"), .number("Mean feature norm")],
                              className: "shift")
        for site in shift.perSite {
            table.rows.append([.text(site.site), .number(ValueFormat.number(site.mmd, significant: 3)),
                               .number(ValueFormat.number(site.proxyADistance, significant: 3)),
                               .number(ValueFormat.number(site.meanFeatureNorm, significant: 3))])
        }
        return table.render()
    }
}
