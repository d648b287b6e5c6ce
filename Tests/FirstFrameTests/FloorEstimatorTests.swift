import FirstFrame
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
#endif

/// The floor and the advice in round trips, from hand-built traces with the `TCP_INFO` samples the hooks record:
/// the model's arithmetic, what counts as needed, and the advice it changes.
@Suite struct FloorEstimatorTests {
    typealias Fixture = ReportAssemblerTests.ColdEdgeFLV
    static func at(_ ms: Double) -> UInt64 { ReportAssemblerTests.at(ms) }

    static func sample(_ ms: Double, rtt: Double, outOfOrder: Int = 0, fd: Int32 = Fixture.fd) -> NetworkEvent {
        TransportSample(
            time: at(ms),
            reason: .connected,
            smoothedRTT: .microseconds(Int64(rtt * 1000)),
            minimumRTT: .microseconds(Int64(rtt * 1000)),
            outOfOrderPackets: outOfOrder
        ).recorded(fd: fd)
    }

    /// The cold-edge fixture with the connection sampled as it connected (31 ms) at a 9 ms RTT.
    static func report(rtt: Double, outOfOrder: Int = 0) -> FirstFrameReport {
        var events = Fixture.setUp
        events.insert(sample(31, rtt: rtt, outOfOrder: outOfOrder), at: 5)
        let trace = NetworkTrace(start: at(0.5), end: at(500), events: events + Fixture.keyframe)
        return ReportAssemblerTests.assembler(trace: trace).report()
    }

    @Test func slowStartTransferMatchesTheRigModel() {
        // 20 252 bytes at 60 ms and 8 Mbit/s: a first flight of 14 480 bytes takes a round trip, the remaining
        // 5 772 (4 packets) their serialisation — 66 ms, what measure.py computes for the rig's 4g keyframe.
        let transfer = FloorEstimator.transfer(bytes: 20_252, segment: 1448, rttMs: 60, rateKbit: 8000)
        #expect(transfer.flights == 2)
        #expect(abs(transfer.ms - 66) < 0.001)
        // One flight: its serialisation only. No rate: only the round trips, 14 480 + 28 960 + the rest in three.
        #expect(FloorEstimator.transfer(bytes: 14_480, segment: 1448, rttMs: 60, rateKbit: 8000).flights == 1)
        #expect(FloorEstimator.transfer(bytes: 100_000, segment: 1448, rttMs: 60, rateKbit: nil).ms == 2 * 60)
    }

    @Test func roundTripsAreCountedInTheKernelsRTT() throws {
        let report = Self.report(rtt: 9)
        let floor = try #require(report.floor)
        #expect(floor.rttMs == 9)
        #expect(floor.steps.map(\.kind) == [.dns, .tcp, .request])
        #expect(floor.roundTripsNeeded == 3)
        // The lookup took 20 ms, the connect 9, the request 48 (32 → 80 ms).
        #expect(floor.steps.map { ($0.spent * 10).rounded() / 10 } == [2.2, 1.0, 5.3])
        // The 2213 bytes to the keyframe's end fit one flight; two receives give no rate, so no serialisation.
        #expect(floor.keyframeFlights == 1)
        #expect(floor.transferMs == 0)
        let causes = try #require(report.causes)
        #expect(abs(floor.floorMs - (27 + causes[.keyframeWait] + floor.decodeMs)) < 0.001)
        #expect(floor.ratio.map { abs($0 * floor.floorMs - 495) < 0.01 } == true)
        #expect(report.hops[0].transport?.connectRTTMs == 9)
    }

    @Test func noFloorOnLoopback() {
        #expect(Self.report(rtt: 0.05).floor == nil)
    }

    @Test func oneRoundTripConnectIsThePathNotAFarEdge() {
        // At 9 ms the 9 ms connect is its round trip: no "far or loaded edge"; the slow response is the server's.
        let advice = Self.report(rtt: 9).advice
        #expect(!advice.contains { $0.remedy == .anotherEdge })
        let roundTrips = advice.first { $0.remedy == .fewerRoundTrips }
        #expect(roundTrips?.message.contains("the server answered in 5.3 round trips") == true)
        #expect(advice.contains { $0.remedy == .warmEdge })
    }

    @Test func aServerAnsweringInItsRoundTripIsNotACold() {
        // At 48 ms RTT the same request took its one round trip: neither a cold stream nor extra round trips.
        let advice = Self.report(rtt: 48).advice
        #expect(!advice.contains { $0.remedy == .warmEdge })
        #expect(!advice.contains { $0.remedy == .anotherEdge })
    }

    @Test func aSecondConnectionToTheSameAddressIsNotNeeded() throws {
        // A playlist on one connection, then a segment on a new connection to the same address.
        let second: Int32 = 9
        var events = Fixture.setUp
        events.insert(Self.sample(31, rtt: 9), at: 5)
        events += [
            NetworkEvent(kind: .connectStart, time: Self.at(160), fd: second, data: Fixture.sockaddr("127.0.0.1", 80)),
            NetworkEvent(kind: .connectReturn, time: Self.at(160), fd: second, result: -1, error: EINPROGRESS),
            NetworkEvent(kind: .socketError, time: Self.at(169), fd: second),
        ]
        let trace = NetworkTrace(start: Self.at(0.5), end: Self.at(500), events: events + Fixture.keyframe)
        let floor = try #require(ReportAssemblerTests.assembler(trace: trace).report().floor)
        #expect(floor.steps.filter { $0.kind == .tcp }.map(\.needed) == [1, 0])
        #expect(floor.roundTripsNeeded == 3)
    }

    @Test func outOfOrderArrivalsNameLossInTheTransferAdvice() throws {
        let floor = try #require(Self.report(rtt: 9, outOfOrder: 3).floor)
        #expect(floor.outOfOrderPackets == 3)
        let advice = RoundTripAdvice.keyframeTransfer(floor, ms: 200)
        #expect(advice.remedy == .lossRecovery)
        #expect(advice.message.contains("3 server packets arrived after a hole"))
    }
}
