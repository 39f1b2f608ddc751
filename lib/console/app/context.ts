import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api';
import type { Me, Role } from './schemas';

export interface ConsoleContextValue {
  api: Api;
  me: Me;
}

export const ConsoleContext = createContext<ConsoleContextValue | undefined>(undefined);

export function useConsole(): ConsoleContextValue & { can(role: Role): boolean } {
  const value = useContext(ConsoleContext);
  if (!value) throw new Error('useConsole outside the console');
  return { ...value, can: (role) => value.me.roles.includes(role) };
}

/** Why a control is off for a caller without `role`; shown next to it and named by its aria-describedby. */
export const roleReason = (role: Role, what: string) => `You need the ${role} role to ${what}.`;
