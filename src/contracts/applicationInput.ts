/**
 * The loan-application workflow's input, and how a stored application becomes it: the API starts
 * the workflow with it, and so does the reconciler's activity for an application whose start was
 * lost. Ids and figures only. Plain types and a pure function: workflow code imports it.
 */
import type { Channel, RepaymentMethod, VehicleCondition, VehicleEnergy, VehicleUsage } from '../domain';

export interface LoanApplicationInput {
  applicationId: string;
  channel: Channel;
  branchId: string;
  dealerId?: string | undefined;
  /** Staff id of the officer who submitted it: never one of its approvers. */
  submittedBy: string;
  amountFen: number;
  termMonths: number;
  repaymentMethod: RepaymentMethod;
  vehicle: {
    condition: VehicleCondition;
    energy: VehicleEnergy;
    usage: VehicleUsage;
    priceFen: number;
    year: number;
    mileageKm: number;
  };
  /** Epoch ms the API accepted it (workflow time for everything after). */
  submittedAtMs: number;
}

/** The stored application and vehicle as far as the input needs them (rows or the API's values). */
export interface StoredApplication {
  id: string;
  channel: string;
  branchId: string;
  dealerId: string | null;
  submittedBy: string;
  amountFen: number;
  termMonths: number;
  repaymentMethod: string;
  vehicle: { condition: string; energy: string; usage: string; priceFen: number; year: number; mileageKm: number };
}

/** The workflow input of a stored application: what the API starts it with, and the reconciler too. */
export function loanApplicationInput(a: StoredApplication, submittedAtMs: number): LoanApplicationInput {
  const v = a.vehicle;
  return {
    applicationId: a.id,
    channel: a.channel as Channel,
    branchId: a.branchId,
    ...(a.dealerId ? { dealerId: a.dealerId } : {}),
    submittedBy: a.submittedBy,
    amountFen: a.amountFen,
    termMonths: a.termMonths,
    repaymentMethod: a.repaymentMethod as RepaymentMethod,
    vehicle: {
      condition: v.condition as VehicleCondition,
      energy: v.energy as VehicleEnergy,
      usage: v.usage as VehicleUsage,
      priceFen: v.priceFen,
      year: v.year,
      mileageKm: v.mileageKm,
    },
    submittedAtMs,
  };
}
