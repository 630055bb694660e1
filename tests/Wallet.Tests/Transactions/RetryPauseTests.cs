using Wallet.Grains.Wallets;
using Xunit;

namespace Wallet.Tests.Transactions;

/// <summary>
/// The pause before a movement's next attempt after Orleans aborted its transaction: random, so that
/// the movements one stall aborted together do not queue into the next one together, and doubling.
/// </summary>
public sealed class RetryPauseTests
{
    [Theory]
    [InlineData(1, 25, 50)]
    [InlineData(2, 50, 100)]
    [InlineData(3, 100, 200)]
    [InlineData(4, 200, 400)]
    public void RetryPause_IsFromHalfToAllOfAPauseThatDoubles(int attempt, int lowestMs, int highestMs)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(lowestMs), WalletGrain.RetryPause(attempt, draw: 0));
        Assert.Equal(TimeSpan.FromMilliseconds((lowestMs + highestMs) / 2.0), WalletGrain.RetryPause(attempt, draw: 0.5));
        var longest = WalletGrain.RetryPause(attempt, draw: Math.BitDecrement(1.0));
        Assert.True(longest <= TimeSpan.FromMilliseconds(highestMs) && longest > TimeSpan.FromMilliseconds(highestMs - 1), $"{longest}");
    }

    [Fact]
    public void RetryPause_AllFourTogetherStayUnderASecond()
    {
        var longest = Enumerable.Range(1, 4).Aggregate(TimeSpan.Zero, (sum, attempt) => sum + WalletGrain.RetryPause(attempt, Math.BitDecrement(1.0)));

        Assert.True(longest < TimeSpan.FromSeconds(1), $"{longest}");
    }
}
