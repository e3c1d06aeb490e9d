using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;

namespace ResumableUpload.LoadTest;

/// <summary>One row of the target table: a ratio (or a memory growth) against its required value.</summary>
internal sealed record TargetCheck(string Scenario, string Subject, string What, double Measured, double Required, bool HigherIsBetter, string Unit)
{
    public bool Passed => HigherIsBetter ? Measured >= Required : Measured <= Required;
}

/// <summary>Medians per scenario and subject, the target checks, and the results page and chart.</summary>
internal sealed class Report
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly List<Measurement> _measurements;
    private readonly Options _options;

    public Report(List<Measurement> measurements, Options options)
    {
        _measurements = measurements;
        _options = options;
    }

    public static bool IsThroughput(string scenario) => scenario is "A" or "B" or "C" or "M";

    public static string Describe(string scenario, Sizes sizes) => scenario switch
    {
        "A" => $"A: one {Size(sizes.ALength)} upload in a single request",
        "B" => $"B: {Size(sizes.BLength)} in {sizes.BParts} parts, offset asked before each",
        "C" => $"C: {sizes.CUploads} concurrent uploads of {Size(sizes.CLength)}",
        "D" => $"D: {sizes.DUploads} uploads of {Size(sizes.DLength)}, {sizes.DInFlight} in flight",
        "E" => $"E: {sizes.EQueries} offset queries, {sizes.EInFlight} in flight",
        "M" => $"M: one {Size(sizes.MLength)} upload (memory must not grow with size)",
        _ => scenario,
    };

    /// <summary>The scenario's measure of speed: MB/s for A, B, C, M; operations per second for D, E.</summary>
    public double Value(string scenario, string subject)
    {
        var runs = Ok(scenario, subject);
        return runs.Count == 0 ? double.NaN : Median(runs.Select(m => IsThroughput(scenario) ? m.MegabytesPerSecond : m.OperationsPerSecond));
    }

    private List<Measurement> Ok(string scenario, string subject)
        => _measurements.Where(m => m.Scenario == scenario && m.Subject.Name == subject && m.Error is null).ToList();

    /// <summary>The subject the scenario compares with, and the ratio it needs.</summary>
    public static (string? Baseline, double Required) Goal(string scenario) => scenario switch
    {
        "A" => ("discard", 0.85),
        "B" => (null, 0.9), // against A of the same subject
        "C" => ("discard", 0.9),
        "D" => ("file", 0.8),
        "E" => ("constant", 0.8),
        _ => (null, double.NaN),
    };

    public double Ratio(string scenario, string subject)
    {
        var (baseline, _) = Goal(scenario);
        if (scenario == "B")
        {
            return Value("B", subject) / Value("A", subject);
        }

        return baseline is null ? double.NaN : Value(scenario, subject) / Value(scenario, baseline);
    }

    public List<TargetCheck> Checks()
    {
        var checks = new List<TargetCheck>();
        foreach (var scenario in Scenarios())
        {
            var (_, required) = Goal(scenario);
            foreach (var subject in Subjects(scenario).Where(s => !s.Target.IsBaseline).Select(s => s.Name))
            {
                if (!double.IsNaN(required))
                {
                    var (baseline, _) = Goal(scenario);
                    var what = scenario == "B" ? "B / A (same protocol)" : $"{scenario} / {baseline}";
                    checks.Add(new TargetCheck(scenario, subject, what, Ratio(scenario, subject), required, true, "×"));
                }

                if (scenario is "A" or "M")
                {
                    var runs = Ok(scenario, subject);
                    if (runs.Count > 0)
                    {
                        var growth = runs.Max(m => m.PeakRss - m.IdleRss) / 1048576.0;
                        checks.Add(new TargetCheck(scenario, subject, "peak RSS − idle RSS", growth, 64, false, "MiB"));
                    }
                }
            }
        }

        return checks;
    }

    private IEnumerable<string> Scenarios() => _options.Scenarios.Where(s => _measurements.Any(m => m.Scenario == s));

    private List<Subject> Subjects(string scenario)
        => _measurements.Where(m => m.Scenario == scenario).Select(m => m.Subject).DistinctBy(s => s.Name).ToList();

    /// <summary>The run's conditions and its target table, for docs/performance.md.</summary>
    public string TargetSection(DateTimeOffset started, TimeSpan elapsed, string loadBefore, string loadAfter)
    {
        var md = new StringBuilder();
        md.AppendLine(Inv, $"Last full run: {started:yyyy-MM-dd HH:mm} UTC ({elapsed.TotalMinutes:0} minutes, {_options.Rounds} rounds, medians) on {Machine()}; load average before {loadBefore}, after {loadAfter}.").AppendLine();
        AppendTargets(md, Checks());
        return md.ToString();
    }

    private static void AppendTargets(StringBuilder md, List<TargetCheck> checks)
    {
        md.AppendLine("| Scenario | Subject | Measure | Measured | Required | Result |");
        md.AppendLine("| --- | --- | --- | ---: | ---: | --- |");
        foreach (var c in checks)
        {
            var op = c.HigherIsBetter ? "≥" : "≤";
            var measured = c.Unit == "×" ? c.Measured.ToString("0.00", Inv) : c.Measured.ToString("0.0", Inv) + " MiB";
            var required = c.Unit == "×" ? c.Required.ToString("0.00", Inv) : c.Required.ToString("0", Inv) + " MiB";
            md.AppendLine(Inv, $"| {c.Scenario} | {c.Subject} | {c.What} | {measured} | {op} {required} | {(double.IsNaN(c.Measured) ? "no data" : c.Passed ? "pass" : "**fail**")} |");
        }
    }

    public string Markdown(DateTimeOffset started, TimeSpan elapsed, string loadBefore, string loadAfter)
    {
        var sizes = _options.Sizes;
        var md = new StringBuilder();
        md.AppendLine("# Load test results").AppendLine();
        md.AppendLine("Written by `benchmarks/ResumableUpload.LoadTest` (run it with `bash eng/bench.sh`; see [performance.md](../performance.md)). Do not edit by hand.").AppendLine();
        md.AppendLine(Inv, $"- Date: {started:yyyy-MM-dd HH:mm} UTC, {elapsed.TotalMinutes:0.0} minutes");
        md.AppendLine(Inv, $"- Machine: {Machine()}");
        md.AppendLine(Inv, $"- Load average (1, 5, 15 min) before: {loadBefore}; after: {loadAfter}");
        md.AppendLine(Inv, $"- Mode: {_options.Mode}, {_options.Rounds} round(s), medians; client and server on 127.0.0.1 share the cores");
        md.AppendLine(Inv, $"- Command: `ResumableUpload.LoadTest {string.Join(' ', _options.CommandLine)}`");
        md.AppendLine();

        var checks = Checks();
        md.AppendLine("## Targets").AppendLine();
        AppendTargets(md, checks);

        md.AppendLine().AppendLine("![Throughput against the baselines](chart.svg)").AppendLine();
        md.AppendLine("## Scenarios").AppendLine();
        foreach (var scenario in Scenarios())
        {
            var throughput = IsThroughput(scenario);
            md.AppendLine(Inv, $"### {Describe(scenario, sizes)}").AppendLine();
            md.AppendLine(Inv, $"| Subject | {(throughput ? "MB/s" : scenario == "D" ? "uploads/s" : "requests/s")} | Ratio | p50 ms | p99 ms | Server CPU s | Idle RSS MiB | Peak RSS MiB | SHA-256 | Runs |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
            foreach (var subject in Subjects(scenario))
            {
                var runs = Ok(scenario, subject.Name);
                var failed = _measurements.Count(m => m.Scenario == scenario && m.Subject.Name == subject.Name && m.Error is not null);
                if (runs.Count == 0)
                {
                    md.AppendLine(Inv, $"| {subject.Name} | failed | | | | | | | | 0/{failed} |");
                    continue;
                }

                var ratio = subject.Target.IsBaseline && scenario != "B" ? (Goal(scenario).Baseline == subject.Name ? "1.00" : Fmt(Ratio(scenario, subject.Name))) : Fmt(Ratio(scenario, subject.Name));
                var sha = runs.All(m => m.ShaOk is null) ? "n/a" : runs.All(m => m.ShaOk == true) ? "ok" : "**mismatch**";
                md.AppendLine(Inv, $"| {subject.Name} | {Value(scenario, subject.Name):0.0} | {ratio} | {Median(runs.Select(m => m.Percentile(50))):0.0} | {Median(runs.Select(m => m.Percentile(99))):0.0} | {Median(runs.Select(m => m.CpuSeconds)):0.00} | {Median(runs.Select(m => m.IdleRss / 1048576.0)):0} | {runs.Max(m => m.PeakRss) / 1048576.0:0} | {sha} | {runs.Count}/{runs.Count + failed} |");
            }

            md.AppendLine();
            md.AppendLine(scenario switch
            {
                "B" => "Ratio: B against A of the same subject. p50/p99: per part (the offset query and the part's request).",
                "M" => "Peak RSS against idle RSS is the measure here (the 64 MiB budget of the target table).",
                _ => $"Ratio: against `{Goal(scenario).Baseline}` in the same run.",
            }).AppendLine();
        }

        var errors = _measurements.Where(m => m.Error is not null).ToList();
        if (errors.Count > 0)
        {
            md.AppendLine("## Failures").AppendLine();
            foreach (var m in errors)
            {
                md.AppendLine(Inv, $"- {m.Scenario} {m.Subject.Name} round {m.Round}: {m.Error}");
            }

            md.AppendLine();
        }

        md.AppendLine("## Every round").AppendLine();
        md.AppendLine("| Scenario | Subject | Round | Seconds | MB/s | ops/s | CPU s | Idle RSS MiB | Peak RSS MiB |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var m in _measurements.Where(m => m.Error is null).OrderBy(m => m.Scenario, StringComparer.Ordinal).ThenBy(m => m.Subject.Name, StringComparer.Ordinal).ThenBy(m => m.Round))
        {
            md.AppendLine(Inv, $"| {m.Scenario} | {m.Subject.Name} | {m.Round} | {m.Seconds:0.000} | {(m.Bytes > 0 ? m.MegabytesPerSecond.ToString("0.0", Inv) : "")} | {m.OperationsPerSecond:0.0} | {m.CpuSeconds:0.00} | {m.IdleRss / 1048576.0:0} | {m.PeakRss / 1048576.0:0} |");
        }

        return md.ToString();
    }

    /// <summary>A bar per subject and scenario: its speed as a ratio of the scenario's baseline, with the target line.</summary>
    public string Svg(DateTimeOffset started)
    {
        const int left = 250, width = 520, barHeight = 18, gap = 4, groupGap = 30, top = 60;
        var rows = new List<(string Scenario, string Label, double Ratio, string Absolute, bool Baseline)>();
        foreach (var scenario in Scenarios().Where(s => s != "M"))
        {
            foreach (var subject in Subjects(scenario))
            {
                var value = Value(scenario, subject.Name);
                var (baseline, _) = Goal(scenario);
                double ratio = scenario == "B" ? Ratio("B", subject.Name) : Value(scenario, subject.Name) / Value(scenario, baseline!);
                var absolute = IsThroughput(scenario) ? $"{value:0} MB/s" : $"{value:0}/s";
                rows.Add((scenario, subject.Name, ratio, absolute, subject.Target.IsBaseline));
            }
        }

        var max = Math.Max(1.2, rows.Where(r => !double.IsNaN(r.Ratio)).Select(r => r.Ratio).DefaultIfEmpty(1).Max() * 1.05);
        var groups = rows.Select(r => r.Scenario).Distinct().ToList();
        var height = top + (rows.Count * (barHeight + gap)) + (groups.Count * groupGap) + 40;
        var svg = new StringBuilder();
        svg.AppendLine(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{left + width + 140}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine(Inv, $"<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.AppendLine(Inv, $"<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">ResumableUpload.Middleware: speed against the baselines of the same run ({started:yyyy-MM-dd}, {_options.Mode})</text>");
        svg.AppendLine(Inv, $"<text x=\"10\" y=\"40\" fill=\"#555\">Bar = median speed / baseline speed (B: / A of the same protocol). Red line = target. Grey bars = baselines.</text>");
        double X(double ratio) => left + (Math.Min(ratio, max) / max * width);
        var y = top;
        foreach (var group in groups)
        {
            var (baseline, required) = Goal(group);
            var groupRows = rows.Where(r => r.Scenario == group).ToList();
            svg.AppendLine(Inv, $"<text x=\"10\" y=\"{y + 12}\" font-weight=\"bold\">{Escape(Describe(group, _options.Sizes))}</text>");
            y += 18;
            var groupTop = y;
            foreach (var row in groupRows)
            {
                var ratio = double.IsNaN(row.Ratio) ? 0 : row.Ratio;
                var fill = row.Baseline ? "#9e9e9e" : (double.IsNaN(required) || ratio >= required ? "#2e7d32" : "#c62828");
                svg.AppendLine(Inv, $"<text x=\"{left - 8}\" y=\"{y + 13}\" text-anchor=\"end\">{Escape(row.Label)}</text>");
                svg.AppendLine(Inv, $"<rect x=\"{left}\" y=\"{y}\" width=\"{X(ratio) - left:0.0}\" height=\"{barHeight}\" fill=\"{fill}\"/>");
                svg.AppendLine(Inv, $"<text x=\"{X(ratio) + 4:0.0}\" y=\"{y + 13}\">{(double.IsNaN(row.Ratio) ? "n/a" : row.Ratio.ToString("0.00", Inv))} ({Escape(row.Absolute)})</text>");
                y += barHeight + gap;
            }

            if (!double.IsNaN(required))
            {
                svg.AppendLine(Inv, $"<line x1=\"{X(required):0.0}\" y1=\"{groupTop - 2}\" x2=\"{X(required):0.0}\" y2=\"{y}\" stroke=\"#d50000\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>");
            }

            svg.AppendLine(Inv, $"<line x1=\"{X(1):0.0}\" y1=\"{groupTop - 2}\" x2=\"{X(1):0.0}\" y2=\"{y}\" stroke=\"#333\" stroke-width=\"1\"/>");
            y += groupGap - 18;
        }

        for (var tick = 0.0; tick <= max + 1e-9; tick += 0.2)
        {
            svg.AppendLine(Inv, $"<line x1=\"{X(tick):0.0}\" y1=\"{y}\" x2=\"{X(tick):0.0}\" y2=\"{y + 5}\" stroke=\"#333\"/>");
            svg.AppendLine(Inv, $"<text x=\"{X(tick):0.0}\" y=\"{y + 18}\" text-anchor=\"middle\">{tick:0.0}×</text>");
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static string Fmt(double ratio) => double.IsNaN(ratio) ? "" : ratio.ToString("0.00", Inv);

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static string Size(long bytes) => bytes >= 1L << 30 && bytes % (1L << 30) == 0 ? $"{bytes >> 30} GiB" : bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";

    public static string LoadAverage()
    {
        try
        {
            return string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static string Machine()
    {
        var cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException)
        {
        }

        var memory = "";
        try
        {
            var kib = long.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Inv);
            memory = $", {kib / 1048576.0:0} GiB RAM";
        }
        catch (IOException)
        {
        }

        return $"{cpu}, {Environment.ProcessorCount} cores{memory}, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}";
    }
}
