using Xunit;

namespace Wallet.Tests.Cluster;

/// <summary>How the bank test reads recovery from acknowledgement times.</summary>
public sealed class ThroughputTests
{
    /// <summary>100/s for 5 s, a kill at t=5, nothing for 2 s, then 70/s until t=20.</summary>
    private static readonly double[] Acknowledgements =
        [.. Rate(0, 5, 100), .. Rate(7, 20, 70)];

    [Fact]
    public void Effect_WithoutAFaultFreeRate_HoldsTheClusterToTheRateBeforeTheFault()
    {
        var effect = Throughput.Effect(Acknowledgements, 5, 20);

        Assert.Equal((100d, 100d, 0), (effect.BeforePerSecond, effect.BaselinePerSecond, effect.MinPerSecond));
        Assert.Null(effect.RecoverySeconds); // 70/s never reaches 80% of 100/s
        Assert.Null(effect.RecoveryToBeforeSeconds);
    }

    [Fact]
    public void Effect_WithAFaultFreeRateBelowTheRateBefore_RecoversToTheFaultFreeRate()
    {
        var effect = Throughput.Effect(Acknowledgements, 5, 20, faultFreePerSecond: 80);

        Assert.Equal((100d, 80d), (effect.BeforePerSecond, effect.BaselinePerSecond));
        // 64/s is reached once the sliding 1 s window holds 64 of the 70 acknowledgements after t=7.
        Assert.InRange(effect.RecoverySeconds!.Value, 2.95, 3.05);
        Assert.Null(effect.RecoveryToBeforeSeconds);
    }

    [Fact]
    public void Effect_WithAFaultFreeRateAboveTheRateBefore_KeepsTheRateBefore()
    {
        var effect = Throughput.Effect(Acknowledgements, 5, 20, faultFreePerSecond: 500);

        Assert.Equal(100d, effect.BaselinePerSecond);
        Assert.Null(effect.RecoverySeconds);
    }

    /// <summary>A second at full rate right after the kill, then a stall: the recovery is after the stall.</summary>
    [Fact]
    public void Effect_ARecoveryMustHoldThroughTheNextSecond()
    {
        double[] acknowledgements = [.. Rate(0, 6, 100), .. Rate(8, 20, 100)];

        var effect = Throughput.Effect(acknowledgements, 5, 20, faultFreePerSecond: 100);

        // [7.8, 8.8) is the first window at 80/s whose next second holds it too: 3.8 s after the kill at 5.
        Assert.InRange(effect.RecoverySeconds!.Value, 3.75, 3.85);
    }

    private static IEnumerable<double> Rate(double from, double to, int perSecond) =>
        Enumerable.Range(0, (int)((to - from) * perSecond)).Select(i => from + ((i + 0.5) / perSecond));
}
