using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Wallet.Grains;
using Wallet.Grains.Reconciliation;

namespace Wallet.Silo.Hosting;

/// <summary>
/// <c>Wallet.Silo recon --source NAME --date YYYY-MM-DD [--file bank.csv] [--tenant ID]</c>: imports
/// the file (if given) into the source, runs it over that day in the source's time zone, and
/// prints the run's summary. Exit 0 when everything matched, 1 when something is unmatched, 2 on
/// an error (an unknown source, a file refused, the database unreachable). The run is recorded
/// as one asked for through the API would be, and the database is the configured one (or the embedded one).
/// </summary>
public static class ReconCommand
{
    public const string Name = "recon";

    public const int AllMatched = 0;
    public const int Unmatched = 1;
    public const int Error = 2;

    private const string Usage = "usage: recon --source NAME --date YYYY-MM-DD [--file PATH] [--tenant ID]";

    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default)
    {
        IConfigurationRoot configuration;
        try
        {
            configuration = new ConfigurationBuilder()
                .SetBasePath(AppContext.BaseDirectory)
                .AddJsonFile("appsettings.json", optional: true)
                .AddEnvironmentVariables()
                .AddCommandLine(args)
                .Build();
        }
        catch (FormatException bad)
        {
            await output.WriteLineAsync($"recon: {bad.Message}\n{Usage}");
            return Error;
        }

        var (sourceName, dateText, file, tenant) = (configuration["source"], configuration["date"], configuration["file"], configuration["tenant"]);
        if (string.IsNullOrWhiteSpace(sourceName) || !DateOnly.TryParseExact(dateText, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            await output.WriteLineAsync(Usage);
            return Error;
        }

        if (file is not null && !File.Exists(file))
        {
            await output.WriteLineAsync($"recon: no file {file}");
            return Error;
        }

        return await CommandDatabase.UseAsync(Name, configuration, output, Error, async dataSource =>
        {
            var services = new ServiceCollection()
                .AddSingleton<IConfiguration>(configuration)
                .AddLogging()
                .AddWalletStores(_ => dataSource)
                .AddSingleton<ReconMatcher>()
                .BuildServiceProvider();
            await using var _ = services;
            return await ReconcileAsync(services, sourceName, date, file, tenant, output, cancellationToken);
        }, cancellationToken);
    }

    private static async Task<int> ReconcileAsync(
        IServiceProvider services, string sourceName, DateOnly date, string? file, string? tenant, TextWriter output, CancellationToken cancellationToken)
    {
        var store = services.GetRequiredService<ReconStore>();
        var found = await store.FindSourcesByNameAsync(sourceName, tenant, cancellationToken);
        if (found.Count != 1)
        {
            await output.WriteLineAsync(found.Count == 0
                ? $"recon: no source named {sourceName}" + (tenant is null ? "" : $" for tenant {tenant}")
                : $"recon: tenants {string.Join(", ", found.Select(f => f.TenantId))} each have a source named {sourceName}: name one with --tenant");
            return Error;
        }

        var (tenantId, source) = found[0];
        var clock = TimeProvider.System;
        if (file is not null)
        {
            if (source.Format != ReconSourceView.Csv)
            {
                await output.WriteLineAsync($"recon: source {sourceName} takes its records as JSON, not files");
                return Error;
            }

            await using var content = File.OpenRead(file);
            var feed = new CsvRecordFeed(content, Path.GetFileName(file), source.Mapping.Delimiter, services.GetRequiredService<IOptions<ReconOptions>>().Value.MaxFileBytes);
            var (outcome, import, failure) = await services.GetRequiredService<ReconImporter>().ImportAsync(
                tenantId, source, ReconIds.NewFile(), feed, LedgerTime.Truncate(clock.GetUtcNow()), _ => null,
                (kind, view) => kind == ReconImportOutcome.SameFile ? StoredAnswers.Done(view) : StoredAnswers.Created(view), cancellationToken);
            if (outcome == ReconImportOutcome.Refused)
            {
                await output.WriteLineAsync($"recon: {file} refused: {failure!.Code}: {failure.Detail}");
                return Error;
            }

            await output.WriteLineAsync(outcome == ReconImportOutcome.SameFile
                ? $"recon: {file} was imported before ({import!.Id}); nothing new"
                : $"recon: {file}: {import!.Rows} rows, {import.Imported} imported, {import.Duplicates} known already, {import.BadRowCount} bad");
        }

        var (from, to) = ReconSchedules.Day(date, ReconSchedules.TimeZoneOf(source));
        var runs = services.GetRequiredService<ReconRunStore>();
        var run = await runs.CreateRunAsync(tenantId, source.Id, from, to, LedgerTime.Truncate(clock.GetUtcNow()), null, null!, cancellationToken);
        var options = services.GetRequiredService<IOptions<ReconOptions>>().Value;
        await services.GetRequiredService<ReconMatcher>().RunAsync(run!.Id, options.RunAttemptsMax, clock, cancellationToken);
        var (_, summary) = await runs.SummaryAsync(tenantId, run.Id, cancellationToken);
        if (summary is null)
        {
            await output.WriteLineAsync($"recon: run {run.Id} did not complete: {(await runs.FindRunAsync(tenantId, run.Id, cancellationToken))?.Error}");
            return Error;
        }

        await output.WriteLineAsync(JsonSerializer.Serialize(summary, new JsonSerializerOptions(WalletJson.Options) { WriteIndented = true }));
        return summary.UnmatchedInternal + summary.UnmatchedExternal == 0 ? AllMatched : Unmatched;
    }
}
