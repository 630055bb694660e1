using System.Globalization;
using Wallet.Grains.Cards;
using Wallet.Grains.Wallets;
using Wallet.Runtime;
using Wallet.Runtime.Cluster;
using Xunit;

namespace Wallet.Tests.Cluster;

/// <summary>
/// Rendezvous placement, with no silo running: every silo and client must compute the same owner
/// from the same view, spread grains evenly, and move only a leaving silo's grains.
/// </summary>
public sealed class GrainPlacementTests
{
    private const int KeyCount = 3_000;

    private static readonly SiloAddress A = new("10.0.0.1:11111", 1);
    private static readonly SiloAddress B = new("10.0.0.2:11111", 1);
    private static readonly SiloAddress C = new("10.0.0.3:11111", 1);
    private static readonly SiloAddress[] ThreeSilos = [A, B, C];

    private static readonly GrainId[] Wallets =
        [.. Enumerable.Range(0, KeyCount).Select(i => new GrainId(typeof(IWalletGrain), "wal_" + i.ToString("x8", CultureInfo.InvariantCulture)))];

    [Fact]
    public void OwnerOf_SameGrainAndSilosInAnyOrder_ReturnsTheSameOwner()
    {
        SiloAddress[] reversed = [C, B, A];
        SiloAddress[] copies = [new(A.Endpoint, A.Generation), new(B.Endpoint, B.Generation), new(C.Endpoint, C.Generation)];

        var owners = Wallets.Select(g => GrainPlacement.OwnerOf(g, ThreeSilos)).ToList();

        Assert.Equal(owners, Wallets.Select(g => GrainPlacement.OwnerOf(g, ThreeSilos)));
        Assert.Equal(owners, Wallets.Select(g => GrainPlacement.OwnerOf(g, reversed)));
        Assert.Equal(owners, Wallets.Select(g => GrainPlacement.OwnerOf(g, copies)));
    }

    [Fact]
    public void OwnerOf_SameKeyOfAnotherGrainInterface_IsPlacedIndependently()
    {
        var differ = Wallets.Count(g =>
            GrainPlacement.OwnerOf(g, ThreeSilos) != GrainPlacement.OwnerOf(new GrainId(typeof(ICardGrain), g.Key), ThreeSilos));

        // Independent placements of one key disagree two times in three.
        Assert.InRange(differ, KeyCount / 2, KeyCount * 5 / 6);
    }

    [Fact]
    public void OwnerOf_ThreeThousandKeysOverThreeSilos_GivesEachBetweenAQuarterAndFortyTwoPercent()
    {
        var counts = Wallets.GroupBy(g => GrainPlacement.OwnerOf(g, ThreeSilos)!).ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(ThreeSilos.ToHashSet(), counts.Keys.ToHashSet());
        foreach (var (silo, count) in counts)
        {
            Assert.InRange(count, KeyCount * 25 / 100, KeyCount * 42 / 100);
        }
    }

    [Fact]
    public void OwnerOf_OneSiloRemoved_MovesOnlyThatSilosGrainsAndSpreadsThem()
    {
        var before = Wallets.ToDictionary(g => g, g => GrainPlacement.OwnerOf(g, ThreeSilos)!);

        var after = Wallets.ToDictionary(g => g, g => GrainPlacement.OwnerOf(g, [A, C])!);

        var moved = Wallets.Where(g => before[g] != after[g]).ToList();
        Assert.All(moved, g => Assert.Equal(B, before[g]));
        Assert.Equal(before.Count(p => p.Value == B), moved.Count);
        var heirs = moved.GroupBy(g => after[g]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal([A, C], heirs.Keys.OrderBy(s => s.Endpoint, StringComparer.Ordinal));
        Assert.All(heirs.Values, count => Assert.InRange(count, moved.Count / 4, moved.Count * 3 / 4));
    }

    [Fact]
    public void OwnerOf_SiloRestartedWithANewGeneration_OwnsTheSameGrains()
    {
        var restarted = B with { Generation = B.Generation + 1 };

        var before = Wallets.Select(g => GrainPlacement.OwnerOf(g, ThreeSilos)!.Endpoint);
        var after = Wallets.Select(g => GrainPlacement.OwnerOf(g, [A, restarted, C])!.Endpoint);

        Assert.Equal(before, after);
    }

    [Fact]
    public void OwnerOf_SkipPredicate_PassesOverSkippedSilosLikeRemovedOnes()
    {
        var skippingB = Wallets.Select(g => GrainPlacement.OwnerOf(g, ThreeSilos, silo => silo == B)).ToList();

        Assert.DoesNotContain(B, skippingB);
        Assert.Equal(Wallets.Select(g => GrainPlacement.OwnerOf(g, [A, C])), skippingB);
        Assert.All(Wallets, g => Assert.Equal(C, GrainPlacement.OwnerOf(g, ThreeSilos, silo => silo != C)));
        Assert.All(Wallets, g => Assert.Null(GrainPlacement.OwnerOf(g, ThreeSilos, _ => true)));
        Assert.Null(GrainPlacement.OwnerOf(Wallets[0], []));
    }
}
